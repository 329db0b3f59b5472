import Kite
import KiteTelemetry

/// `{"a": 1, "b": 2}`: the request of `sum`.
public struct SumRequest: Codable, Sendable, Equatable {
    public var a: Int
    public var b: Int
    public init(a: Int, b: Int) {
        self.a = a
        self.b = b
    }
}

/// `{"v": 3}`: the answer of `sum`.
public struct SumResponse: Codable, Sendable, Equatable {
    public var v: Int
    public init(v: Int) { self.v = v }
}

/// `{"a": "x", "b": "y"}`: the request of `concat`.
public struct ConcatRequest: Codable, Sendable, Equatable {
    public var a: String
    public var b: String
    public init(a: String, b: String) {
        self.a = a
        self.b = b
    }
}

/// `{"v": "xy"}`: the answer of `concat`.
public struct ConcatResponse: Codable, Sendable, Equatable {
    public var v: String
    public init(v: String) { self.v = v }
}

/// The service's methods as endpoints — the same set whether they are served (each with the one
/// decorator around the service) or called (each with the decorator around a client transport).
public struct AddEndpoints: Sendable {
    public var sum: Endpoint<SumRequest, SumResponse>
    public var concat: Endpoint<ConcatRequest, ConcatResponse>

    /// Endpoints from any source.
    public init(sum: Endpoint<SumRequest, SumResponse>, concat: Endpoint<ConcatRequest, ConcatResponse>) {
        self.sum = sum
        self.concat = concat
    }

    /// The endpoints of `service`, each with the one decorator, and `protection` around and
    /// inside it (see ``AddServerProtection``).
    public init(service: some AddService, telemetry: Telemetry, protection: AddServerProtection = .none) {
        let inner = AddEndpoints(service: service)
        self.sum = protection.applyOutside(to: protection.applyInside(to: inner.sum).instrumented("sum", telemetry))
        self.concat = protection.applyOutside(
            to: protection.applyInside(to: inner.concat).instrumented("concat", telemetry)
        )
    }

    /// The endpoints of `service` without the decorator (what the benchmarks compare it with),
    /// with `protection`.
    public init(bare service: some AddService, protection: AddServerProtection = .none) {
        let inner = AddEndpoints(service: service)
        self.sum = protection.applyOutside(to: protection.applyInside(to: inner.sum))
        self.concat = protection.applyOutside(to: protection.applyInside(to: inner.concat))
    }

    /// The service's methods as endpoints, nothing around them.
    private init(service: some AddService) {
        self.sum = Endpoint { request in
            SumResponse(v: try await service.sum(request.a, request.b))
        }
        self.concat = Endpoint { request in
            ConcatResponse(v: try await service.concat(request.a, request.b))
        }
    }
}

/// Kite's streaming additions to addsvc (`kite.addsvc.AddStream`).
public struct AddStreamEndpoints: Sendable {
    /// The running totals of `from...to`: 1, 3, 6, 10 for 1...4.
    public var runningSum: Endpoint<ClosedRange<Int>, MessageStream<SumResponse>>
    /// The sum of every number sent.
    public var sumAll: Endpoint<MessageStream<Int>, SumResponse>
    /// Each pair's sum, as it arrives.
    public var sumEach: Endpoint<MessageStream<SumRequest>, MessageStream<SumResponse>>

    /// Endpoints from any source.
    public init(
        runningSum: Endpoint<ClosedRange<Int>, MessageStream<SumResponse>>,
        sumAll: Endpoint<MessageStream<Int>, SumResponse>,
        sumEach: Endpoint<MessageStream<SumRequest>, MessageStream<SumResponse>>
    ) {
        self.runningSum = runningSum
        self.sumAll = sumAll
        self.sumEach = sumEach
    }

    /// The streaming endpoints of `service`, each with the one decorator (which covers the call
    /// up to the moment its stream is handed over).
    public init(service: some AddService, telemetry: Telemetry) {
        self.runningSum = Endpoint { range in
            MessageStream(RunningSums(range: range))
        }
        .instrumented("running_sum", telemetry)
        self.sumAll = Endpoint { numbers in
            var total = 0
            for try await number in numbers {
                let (next, overflow) = total.addingReportingOverflow(number)
                guard !overflow else { throw AddServiceError.integerOverflow }
                total = next
            }
            return SumResponse(v: total)
        }
        .instrumented("sum_all", telemetry)
        self.sumEach = Endpoint { pairs in
            MessageStream(pairs.map { pair in SumResponse(v: try await service.sum(pair.a, pair.b)) })
        }
        .instrumented("sum_each", telemetry)
    }
}

/// The running totals of a range, computed as they are read.
struct RunningSums: AsyncSequence, Sendable {
    let range: ClosedRange<Int>

    struct AsyncIterator: AsyncIteratorProtocol {
        var next: Int?
        let last: Int
        var total = 0

        mutating func next() async throws -> SumResponse? {
            guard let value = self.next else { return nil }
            self.next = value < self.last ? value + 1 : nil
            let (sum, overflow) = self.total.addingReportingOverflow(value)
            guard !overflow else { throw AddServiceError.integerOverflow }
            self.total = sum
            return SumResponse(v: sum)
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(next: self.range.lowerBound, last: self.range.upperBound)
    }
}
