import Kite
import KiteTelemetry

/// How addcli protects itself and addsvc when it calls: each call gets 1 s in all; within it, when
/// `maxInFlight` is set, a bulkhead lets that many calls in at once (more wait their turn, within
/// the second); then up to 3 attempts with backoff, retries limited to 20 % of the calls; every
/// attempt goes through one circuit breaker for the addsvc instance (5 failures in a row open it
/// for 5 s).
public struct AddClientResilience: Sendable {
    /// The breaker of the addsvc instance called.
    public let breaker: CircuitBreaker
    /// The budget retries draw from.
    public let budget: RetryBudget
    /// The bulkhead, when calls in flight are bounded.
    public let bulkhead: Bulkhead?
    let telemetry: Telemetry
    let clock: ResilienceClock

    /// Creates the breaker, the budget and, with `maxInFlight`, the bulkhead.
    public init(telemetry: Telemetry, maxInFlight: Int? = nil, clock: ResilienceClock = .system) throws {
        self.bulkhead = try maxInFlight.map {
            try Bulkhead("addsvc", maxConcurrentCalls: $0, maxWaitingCalls: 1024, maxWait: .seconds(1), telemetry: telemetry, clock: clock)
        }
        self.breaker = try CircuitBreaker(
            "addsvc",
            policy: .consecutiveFailures(5, coolDown: .seconds(5)),
            telemetry: telemetry,
            clock: clock
        )
        self.budget = try RetryBudget(ratio: 0.2)
        self.telemetry = telemetry
        self.clock = clock
    }

    /// `endpoints` with a 1 s timeout, the bulkhead, retry and the breaker, outside in.
    public func apply(to endpoints: AddEndpoints) throws -> AddEndpoints {
        AddEndpoints(
            sum: try self.apply(to: endpoints.sum, name: "sum"),
            concat: try self.apply(to: endpoints.concat, name: "concat")
        )
    }

    private func apply<Request, Response>(
        to endpoint: Endpoint<Request, Response>,
        name: String
    ) throws -> Endpoint<Request, Response> {
        var middlewares: [Middleware<Request, Response>] = [try .timeout(.seconds(1), name: name, clock: self.clock)]
        if let bulkhead = self.bulkhead { middlewares.append(.bulkhead(bulkhead)) }
        middlewares.append(
            try .retry(
                RetryPolicy(maxAttempts: 3, budget: self.budget),
                name: "addsvc",
                telemetry: self.telemetry,
                clock: self.clock
            )
        )
        middlewares.append(.circuitBreaker(self.breaker))
        return endpoint.with(middlewares)
    }
}
