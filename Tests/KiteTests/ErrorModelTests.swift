import Kite
import KiteTelemetry
import KiteTesting
import Logging
import Testing
import Tracing

/// A service's business error, as a user would write it.
enum LedgerError: ServiceError, CaseIterable, CustomStringConvertible {
    case insufficientFunds
    case accountNotFound
    case ledgerLocked

    var code: ErrorCode {
        switch self {
        case .insufficientFunds: .failedPrecondition
        case .accountNotFound: .notFound
        case .ledgerLocked: .unavailable
        }
    }

    var description: String {
        switch self {
        case .insufficientFunds: "insufficient funds"
        case .accountNotFound: "no such account"
        case .ledgerLocked: "ledger locked"
        }
    }
}

/// An error that overrides the defaults: a 422 that is still a business error.
struct Unprocessable: ServiceError {
    var code: ErrorCode { .invalidArgument }
    var httpStatus: Int { 422 }
}

/// A conflict the service decides is a business error although `ABORTED` is not by default.
struct VersionConflict: ServiceError {
    var code: ErrorCode { .aborted }
    var isBusinessError: Bool { true }
}

@Suite("Error model")
struct ErrorModelTests {
    @Test("every code has a name that reads back, and an HTTP status that maps back to a code of the same class")
    func codesRoundTrip() {
        for code in ErrorCode.allCases {
            #expect(ErrorCode(name: code.name) == code)
            let back = ErrorCode(httpStatus: code.httpStatus)
            #expect(back.httpStatus == code.httpStatus, "\(code) → \(code.httpStatus) → \(back)")
        }
        #expect(ErrorCode(name: "out_of_range") == nil)
        #expect(ErrorCode(httpStatus: 418) == .failedPrecondition)
        #expect(ErrorCode(httpStatus: 502) == .unavailable)
        #expect(ErrorCode(httpStatus: 599) == .internal)
        #expect(ErrorCode(httpStatus: 302) == .unknown)
    }

    @Test("the outcome: business errors by code or by the error's own say; everything else a failure")
    func classification() {
        #expect(CallOutcome(of: LedgerError.insufficientFunds) == .businessError)
        #expect(CallOutcome(of: LedgerError.accountNotFound) == .businessError)
        #expect(CallOutcome(of: LedgerError.ledgerLocked) == .failure)
        #expect(CallOutcome(of: VersionConflict()) == .businessError)
        #expect(CallOutcome(of: Unprocessable()) == .businessError)
        #expect(Unprocessable().httpStatus == 422)
        #expect(CallOutcome(of: Refused()) == .failure)
        #expect(CallOutcome(of: CancellationError()) == .failure)
        #expect(CallOutcome.code(of: CancellationError()) == .cancelled)
        #expect(CallOutcome.code(of: Refused()) == .unknown)
        #expect(CallOutcome.code(of: LedgerError.accountNotFound) == .notFound)
        // A remote error keeps the remote classification.
        #expect(CallOutcome(of: RemoteError(code: .outOfRange, message: "x")) == .businessError)
        #expect(CallOutcome(of: RemoteError(code: .internal, httpStatus: 500, message: "x")) == .failure)
    }

    @Test("a remote error becomes the service's own case when code and message match, else stays remote")
    func matchingDecoder() throws {
        let decode = RemoteError.matching(LedgerError.self)
        #expect(decode(RemoteError(code: .notFound, message: "no such account")) as? LedgerError == .accountNotFound)
        // Same message, other code: not the same error.
        let other = RemoteError(code: .internal, message: "no such account")
        #expect(decode(other) as? RemoteError == other)
        let unknown = RemoteError(code: .notFound, message: "no such branch")
        #expect(decode(unknown) as? RemoteError == unknown)
    }

    @Test("the decorator: a business error counts as business_error, logs at info, leaves the span unset")
    func decoratorOutcomes() async throws {
        let test = TestTelemetry()
        let endpoint = Endpoint<Int, Int> { request in
            switch request {
            case 0: throw LedgerError.accountNotFound
            case 1: throw LedgerError.ledgerLocked
            default: return request
            }
        }
        .instrumented("transfer", test.telemetry)
        #expect(try await endpoint(5) == 5)
        await #expect(throws: LedgerError.accountNotFound) { try await endpoint(0) }
        await #expect(throws: LedgerError.ledgerLocked) { try await endpoint(1) }

        for outcome in ["success", "business_error", "failure"] {
            let errorType = outcome == "success" ? "" : "LedgerError"
            #expect(test.counter("kite_endpoint_requests_total", ["endpoint": "transfer", "outcome": outcome, "error_type": errorType]) == 1)
            #expect(test.histogram("kite_endpoint_request_duration_seconds", ["endpoint": "transfer", "outcome": outcome])?.count == 1)
        }

        let spans = test.spans(named: "transfer")
        #expect(spans.count == 3)
        // Both errors are recorded with their type; only the failure sets the status.
        #expect(spans.filter { $0.attributes.get("error.type") == .string("LedgerError") }.count == 2)
        #expect(spans.filter { $0.status?.code == .error }.count == 1)
        #expect(spans.filter { $0.events.map(\.name) == ["exception"] }.count == 2)

        let records = test.logs(containing: "endpoint call")
        let business = try #require(records.first { $0.metadata["outcome"] == "business_error" })
        #expect(business.level == .info)
        #expect(business.metadata["error"] == "no such account")
        let failure = try #require(records.first { $0.metadata["outcome"] == "failure" })
        #expect(failure.level == .warning)
        await test.shutdown()
    }
}
