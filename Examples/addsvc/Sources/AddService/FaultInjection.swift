import Kite

/// Faults addsvc injects for demonstrations and tests (`--fail-rate`, `--latency`, `--work`): a
/// fraction of calls fails as a failure of the call (`UNAVAILABLE`: HTTP 503), every call waits
/// longer, and every call burns CPU (what makes load shedding worth its while: refusing a call
/// must cost less than serving it).
public struct FaultInjection: Sendable, Hashable {
    /// The fraction of calls that fail, 0…1.
    public var failRate: Double
    /// Added to every call, waiting (a slow downstream).
    public var latency: Duration
    /// CPU time every call spends, spinning (an expensive computation).
    public var work: Duration

    /// Creates the faults.
    public init(failRate: Double = 0, latency: Duration = .zero, work: Duration = .zero) {
        self.failRate = failRate
        self.latency = latency
        self.work = work
    }

    /// Whether there is anything to inject.
    public var isActive: Bool { self.failRate > 0 || self.latency > .zero || self.work > .zero }
}

/// The failure a call gets from ``FaultInjection``: `UNAVAILABLE`, HTTP 503.
public struct InjectedFailure: ServiceError, CustomStringConvertible {
    public var code: ErrorCode { .unavailable }
    public var description: String { "injected failure (--fail-rate)" }
}

extension Middleware {
    /// Waits `faults.latency`, spins for `faults.work`, then fails `faults.failRate` of the calls
    /// with ``InjectedFailure``.
    public static func faults(_ faults: FaultInjection) -> Middleware {
        Middleware { next in
            guard faults.isActive else { return next }
            return Endpoint { request in
                if faults.latency > .zero { try await Task.sleep(for: faults.latency) }
                if faults.work > .zero {
                    let end = ContinuousClock.now.advanced(by: faults.work)
                    while ContinuousClock.now < end {}
                }
                if faults.failRate > 0, Double.random(in: 0..<1) < faults.failRate { throw InjectedFailure() }
                return try await next(request)
            }
        }
    }
}
