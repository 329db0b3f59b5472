import Kite

/// What stands between addsvc's transports and its service, inside the one decorator (so that
/// every refusal shows in the endpoint's RED metrics too), outside in: the load shedder, the rate
/// limiter, the injected faults. One shedder and one limiter serve every endpoint and both
/// transports: they protect the process, not a method.
public struct AddServerProtection: Sendable {
    /// Refuses requests while the service is overloaded (`--no-shedding` turns it off).
    public var shedder: LoadShedder?
    /// Refuses requests over `--rate-limit` per second with 429 and `Retry-After`.
    public var rateLimiter: RateLimiter?
    /// `--fail-rate` and `--latency`.
    public var faults: FaultInjection

    /// Creates the protection.
    public init(shedder: LoadShedder? = nil, rateLimiter: RateLimiter? = nil, faults: FaultInjection = .init()) {
        self.shedder = shedder
        self.rateLimiter = rateLimiter
        self.faults = faults
    }

    /// No protection and no faults.
    public static let none = AddServerProtection()

    func apply<Request, Response>(to endpoint: Endpoint<Request, Response>) -> Endpoint<Request, Response> {
        var middlewares: [Middleware<Request, Response>] = []
        if let shedder = self.shedder { middlewares.append(.loadShedding(shedder)) }
        if let rateLimiter = self.rateLimiter { middlewares.append(.rateLimited(rateLimiter)) }
        middlewares.append(.faults(self.faults))
        return endpoint.with(middlewares)
    }
}
