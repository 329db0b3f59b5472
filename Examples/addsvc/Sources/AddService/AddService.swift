import Kite

/// go-kit's reference service: plain Swift, no Kite types.
public protocol AddService: Sendable {
    /// `a + b`.
    func sum(_ a: Int, _ b: Int) async throws -> Int
    /// `a` followed by `b`.
    func concat(_ a: String, _ b: String) async throws -> String
}

/// The service's errors, as go-kit's addsvc has them. All are business errors: answers about the
/// request, `INVALID_ARGUMENT` or `OUT_OF_RANGE`, 400 over HTTP.
public enum AddServiceError: ServiceError, Equatable, CaseIterable, CustomStringConvertible {
    /// Both numbers were zero (go-kit's example refuses them).
    case twoZeroes
    /// The sum does not fit in 64 bits.
    case integerOverflow
    /// The concatenation is longer than ``BasicAddService/maxConcatLength``.
    case maxSizeExceeded

    public var code: ErrorCode {
        switch self {
        case .twoZeroes: .invalidArgument
        case .integerOverflow, .maxSizeExceeded: .outOfRange
        }
    }

    public var description: String {
        switch self {
        case .twoZeroes: "can't sum two zeroes"
        case .integerOverflow: "integer overflow"
        case .maxSizeExceeded: "result exceeds maximum size"
        }
    }
}

/// The implementation.
public struct BasicAddService: AddService {
    /// The longest result `concat` gives (go-kit's limit).
    public static let maxConcatLength = 10

    public init() {}

    public func sum(_ a: Int, _ b: Int) async throws -> Int {
        guard a != 0 || b != 0 else { throw AddServiceError.twoZeroes }
        let (result, overflow) = a.addingReportingOverflow(b)
        guard !overflow else { throw AddServiceError.integerOverflow }
        return result
    }

    public func concat(_ a: String, _ b: String) async throws -> String {
        guard a.utf8.count + b.utf8.count <= Self.maxConcatLength else { throw AddServiceError.maxSizeExceeded }
        return a + b
    }
}
