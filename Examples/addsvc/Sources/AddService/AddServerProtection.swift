import Kite

/// What stands between addsvc's transports and its service. The load shedder goes outside the one
/// decorator: under overload a refusal must cost as little as possible, so it gets no span and no
/// log line (the shedder's own counters and the transport's 503s show it). Inside the decorator,
/// so that their refusals show in the endpoint's RED metrics: the rate limiter, then the injected
/// faults. One shedder and one limiter serve every endpoint and both transports: they protect the
/// process, not a method.
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

    /// What goes inside the decorator: the rate limiter and the faults.
    func applyInside<Request, Response>(to endpoint: Endpoint<Request, Response>) -> Endpoint<Request, Response> {
        var middlewares: [Middleware<Request, Response>] = []
        if let rateLimiter = self.rateLimiter { middlewares.append(.rateLimited(rateLimiter)) }
        middlewares.append(.faults(self.faults))
        return endpoint.with(middlewares)
    }

    /// What goes outside the decorator: the load shedder.
    func applyOutside<Request, Response>(to endpoint: Endpoint<Request, Response>) -> Endpoint<Request, Response> {
        guard let shedder = self.shedder else { return endpoint }
        return endpoint.with(.loadShedding(shedder))
    }
}
