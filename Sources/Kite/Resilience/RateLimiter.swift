import KiteTelemetry
import Synchronization

/// A token-bucket rate limiter: at most `rate` calls per second on average, with bursts of up to
/// `burst` calls.
///
/// Two modes:
/// - ``Mode/erroring`` refuses a call at once when no token is left, with a ``RefusedError``
///   (`RESOURCE_EXHAUSTED`: HTTP 429 with `Retry-After`, gRPC with `grpc-retry-pushback-ms`) that
///   says when the next token comes — go-kit's `NewErroringLimiter`;
/// - ``Mode/delaying(maxWait:)`` makes the call wait for its token — go-kit's
///   `NewDelayingLimiter` — unless the token comes later than `maxWait`, later than the call's
///   ``ServiceContext/deadline`` — then it is refused at once, as in erroring mode. A caller that
///   cancels while waiting gets its `CancellationError` (counted as `queue_timeout`); the token it
///   waited for is spent.
///
/// ```swift
/// let limiter = try RateLimiter("api", rate: 100, burst: 20, telemetry: telemetry)
/// let sum = addEndpoint.with(.rateLimited(limiter))
/// ```
///
/// Admitting a call is one clock read and one compare-and-exchange; metrics are the
/// ``LimiterInstruments`` ones with `kind="token_bucket"` (the limit gauge reads the rate).
/// For a limit per client or tenant use ``KeyedRateLimiter``.
public final class RateLimiter: Sendable {
    /// What happens to a call that finds no token.
    public enum Mode: Sendable, Hashable {
        /// It is refused at once.
        case erroring
        /// It waits for a token, at most `maxWait` (and never past its deadline).
        case delaying(maxWait: Duration)
    }

    /// The limiter's name: the `limiter` label.
    public let name: String
    /// Calls per second.
    public let rate: Double
    /// Calls admitted at once from a full bucket.
    public let burst: Int
    /// What happens to a call that finds no token.
    public let mode: Mode
    let bucket: TokenBucket
    let clock: ResilienceClock
    let instruments: LimiterInstruments
    private let tat: Atomic<Int64>
    private let maxWait: Int64

    /// Creates a limiter with a full bucket.
    /// - Parameters:
    ///   - name: The `limiter` label and the name in refusals.
    ///   - rate: Calls per second, above zero.
    ///   - burst: Calls admitted at once from a full bucket. Default one second's worth of `rate`.
    ///   - mode: Refuse at once (default) or wait for a token.
    ///   - telemetry: Where its metrics go.
    ///   - clock: The time it reads. Default the system's monotonic clock.
    /// - Throws: ``ResilienceConfigurationError`` when `rate`, `burst` or `maxWait` is out of range.
    public init(
        _ name: String,
        rate: Double,
        burst: Int? = nil,
        mode: Mode = .erroring,
        telemetry: Telemetry,
        clock: ResilienceClock = .system
    ) throws {
        let settings = try TokenBucket.make(
            rate: rate,
            burst: burst,
            mode: mode,
            check: ConfigurationCheck(component: "rate limiter \"\(name)\"")
        )
        self.name = name
        self.rate = rate
        self.burst = settings.burst
        self.mode = mode
        self.bucket = settings.bucket
        self.clock = clock
        self.maxWait = settings.maxWait
        self.tat = Atomic(clock.now())
        let reasons: [RefusedError.Reason] = mode == .erroring ? [.rateLimited] : [.rateLimited, .queueTimeout]
        self.instruments = LimiterInstruments(name: name, kind: "token_bucket", reasons: reasons, telemetry: telemetry)
        self.instruments.setLimit(rate)
    }

    /// Takes a token, waiting for it in ``Mode/delaying(maxWait:)`` mode.
    /// - Throws: ``RefusedError`` when the call gets no token.
    public func acquire() async throws {
        let now = self.clock.now()
        try await self.instruments.settle(self.take(at: now, maxWait: ResilienceClock.allowedWait(self.maxWait)), now: now, clock: self.clock)
    }

    /// Takes a token if one is there now, whatever the mode — `golang.org/x/time/rate`'s `Allow`.
    /// - Throws: ``RefusedError`` (`rate_limited`, with the time to the next token) otherwise.
    public func tryAcquire() throws {
        switch self.take(at: self.clock.now(), maxWait: 0) {
        case .refuse(let retryAfter):
            throw self.instruments.rateLimited(retryAfter: retryAfter)
        case .admit:
            self.instruments.admitted.increment()
        }
    }

    /// Decides on a call at `now` that may wait `maxWait`, and moves the bucket if it is admitted.
    private func take(at now: Int64, maxWait: Int64) -> TokenBucket.Decision {
        var tat = self.tat.load(ordering: .relaxed)
        while true {
            let decision = self.bucket.decide(tat: tat, now: now, maxWait: maxWait)
            guard case .admit(let newTAT, _) = decision else { return decision }
            let (exchanged, original) = self.tat.weakCompareExchange(expected: tat, desired: newTAT, ordering: .relaxed)
            if exchanged { return decision }
            tat = original
        }
    }
}

extension Middleware {
    /// Limits the endpoint's calls with `limiter`: see ``RateLimiter``.
    @inlinable
    public static func rateLimited(_ limiter: RateLimiter) -> Middleware {
        Middleware { next in
            Endpoint { request in
                try await limiter.acquire()
                return try await next(request)
            }
        }
    }
}
