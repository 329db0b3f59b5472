import KiteTelemetry
import Synchronization

/// A concurrency limit that follows measured latency (Netflix's concurrency-limits): as a
/// downstream slows, it gets fewer concurrent calls, without anyone tuning a number. Calls over
/// the limit are refused at once with ``RefusedError`` (`concurrency_limit`,
/// `RESOURCE_EXHAUSTED`: HTTP 429).
///
/// ```swift
/// let limiter = try AdaptiveConcurrencyLimiter("inventory", algorithm: .gradient(), telemetry: telemetry)
/// let lookup = client.endpoint(...).with(.adaptiveConcurrencyLimit(limiter))
/// ```
///
/// Admission is one atomic increment checked against the limit; each finished call updates the
/// limit under a short lock. Metrics are the ``LimiterInstruments`` ones with
/// `kind="adaptive_concurrency"`; the limit gauge shows the limit moving.
public final class AdaptiveConcurrencyLimiter: Sendable {
    /// The limiter's name: the `limiter` label.
    public let name: String
    let clock: ResilienceClock
    let isDrop: @Sendable (any Error) -> Bool
    let instruments: LimiterInstruments
    private let estimate: Mutex<ConcurrencyLimitEstimate>
    private let admissionLimit: Atomic<Int>
    private let running = Atomic<Int>(0)

    /// Creates a limiter.
    /// - Parameters:
    ///   - name: The `limiter` label and the name in refusals.
    ///   - algorithm: How the limit moves. Default ``ConcurrencyLimitAlgorithm/gradient(initialLimit:minLimit:maxLimit:smoothing:tolerance:longWindow:)``.
    ///   - telemetry: Where its metrics go.
    ///   - clock: The time it measures latency on.
    ///   - isDrop: Whether a call that threw counts as dropped (AIMD backs off). Default: the
    ///     failures a ``CircuitBreaker`` counts.
    /// - Throws: ``ResilienceConfigurationError`` when the algorithm's values are out of range.
    public init(
        _ name: String,
        algorithm: ConcurrencyLimitAlgorithm = .gradient(),
        telemetry: Telemetry,
        clock: ResilienceClock = .system,
        isDrop: @escaping @Sendable (any Error) -> Bool = CircuitBreaker.countsAsFailure
    ) throws {
        try algorithm.validate(ConfigurationCheck(component: "adaptive concurrency limit \"\(name)\""))
        self.name = name
        self.clock = clock
        self.isDrop = isDrop
        self.estimate = Mutex(ConcurrencyLimitEstimate(algorithm))
        self.admissionLimit = Atomic(algorithm.initialLimit)
        self.instruments = LimiterInstruments(
            name: name,
            kind: "adaptive_concurrency",
            reasons: [.concurrencyLimit],
            telemetry: telemetry
        )
        self.instruments.publish(
            inFlight: { [weak self] in self?.inFlight },
            limit: { [weak self] in (self?.limit).map(Double.init) }
        )
    }

    /// The current limit.
    public var limit: Int { self.admissionLimit.load(ordering: .relaxed) }

    /// Calls in flight now.
    public var inFlight: Int { self.running.load(ordering: .relaxed) }

    func call<Request: Sendable, Response: Sendable>(
        _ next: Endpoint<Request, Response>,
        with request: Request
    ) async throws -> Response {
        let inFlight = self.running.wrappingAdd(1, ordering: .relaxed).newValue
        guard inFlight <= self.admissionLimit.load(ordering: .relaxed) else {
            self.running.subtract(1, ordering: .relaxed)
            self.instruments.refused(.concurrencyLimit)
            throw RefusedError(.concurrencyLimit, by: self.name)
        }
        self.instruments.admitted.increment()
        let start = self.clock.now()
        do {
            let response = try await next(request)
            self.finish(start: start, inFlight: inFlight, dropped: false)
            return response
        } catch {
            // A cancelled call measured nothing.
            self.finish(start: start, inFlight: inFlight, dropped: !Task.isCancelled && self.isDrop(error), measured: !Task.isCancelled)
            throw error
        }
    }

    private func finish(start: Int64, inFlight: Int, dropped: Bool, measured: Bool = true) {
        self.running.subtract(1, ordering: .relaxed)
        guard measured else { return }
        let latency = self.clock.now() - start
        let limit = self.estimate.withLock { estimate in
            estimate.update(latency: latency, inFlight: inFlight, dropped: dropped)
            return Int(estimate.limit)
        }
        self.admissionLimit.store(limit, ordering: .relaxed)
    }
}

extension Middleware {
    /// Limits the endpoint's concurrent calls with `limiter`: see ``AdaptiveConcurrencyLimiter``.
    public static func adaptiveConcurrencyLimit(_ limiter: AdaptiveConcurrencyLimiter) -> Middleware {
        Middleware { next in
            Endpoint { request in try await limiter.call(next, with: request) }
        }
    }
}
