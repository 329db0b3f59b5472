import Kite

/// Faults addsvc injects for demonstrations and tests (`--fail-rate`, `--latency`): a fraction of
/// calls fails as a failure of the call (`UNAVAILABLE`: HTTP 503), and every call takes longer.
public struct FaultInjection: Sendable, Hashable {
    /// The fraction of calls that fail, 0…1.
    public var failRate: Double
    /// Added to every call.
    public var latency: Duration

    /// Creates the faults.
    public init(failRate: Double = 0, latency: Duration = .zero) {
        self.failRate = failRate
        self.latency = latency
    }

    /// Whether there is anything to inject.
    public var isActive: Bool { self.failRate > 0 || self.latency > .zero }
}

/// The failure a call gets from ``FaultInjection``: `UNAVAILABLE`, HTTP 503.
public struct InjectedFailure: ServiceError, CustomStringConvertible {
    public var code: ErrorCode { .unavailable }
    public var description: String { "injected failure (--fail-rate)" }
}

extension Middleware {
    /// Waits `faults.latency`, then fails `faults.failRate` of the calls with ``InjectedFailure``.
    public static func faults(_ faults: FaultInjection) -> Middleware {
        Middleware { next in
            guard faults.isActive else { return next }
            return Endpoint { request in
                if faults.latency > .zero { try await Task.sleep(for: faults.latency) }
                if faults.failRate > 0, Double.random(in: 0..<1) < faults.failRate { throw InjectedFailure() }
                return try await next(request)
            }
        }
    }
}
