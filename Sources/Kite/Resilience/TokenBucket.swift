import KiteTelemetry

/// The token bucket as the generic cell rate algorithm: the whole bucket is one instant, the
/// "theoretical arrival time" (TAT) — when the bucket will be full again — so admitting a call
/// is one compare-and-exchange of one integer.
///
/// A call at `now` conforms when `TAT − now ≤ tolerance` (the bucket holds a token); admitting it
/// moves the TAT to `max(TAT, now) + interval`. A bucket of rate R and burst B has
/// `interval = 1/R` and `tolerance = (B − 1)·interval`.
struct TokenBucket: Sendable, Hashable {
    /// Nanoseconds per token.
    let interval: Int64
    /// How far ahead of `now` the TAT may be for a call to conform.
    let tolerance: Int64

    init(rate: Double, burst: Int) {
        self.interval = max(Int64((1e9 / rate).rounded()), 1)
        self.tolerance = self.interval * Int64(max(burst - 1, 0))
    }

    /// What a call at `now` gets from a bucket at `tat`, if it may wait up to `maxWait`.
    enum Decision {
        /// Admitted after `wait` nanoseconds (0: at once); the bucket's TAT becomes `tat`.
        case admit(tat: Int64, wait: Int64)
        /// Refused: a token comes in `retryAfter` nanoseconds.
        case refuse(retryAfter: Int64)
    }

    func decide(tat: Int64, now: Int64, maxWait: Int64) -> Decision {
        let wait = tat - self.tolerance - now
        guard wait <= maxWait else { return .refuse(retryAfter: wait) }
        return .admit(tat: max(tat, now) &+ self.interval, wait: max(wait, 0))
    }
}

extension TokenBucket {
    /// A rate limiter's bucket from its settings, checked: `burst` defaults to one second's worth
    /// of `rate`; `maxWait` is the delaying mode's longest wait in nanoseconds (0 when erroring).
    static func make(
        rate: Double,
        burst: Int?,
        mode: RateLimiter.Mode,
        check: ConfigurationCheck
    ) throws -> (bucket: TokenBucket, burst: Int, maxWait: Int64) {
        let burst = burst ?? max(Int(rate.rounded(.up)), 1)
        try check.positive(rate, "rate")
        try check.positive(burst, "burst")
        guard case .delaying(let maxWait) = mode else { return (TokenBucket(rate: rate, burst: burst), burst, 0) }
        try check.nonNegative(maxWait, "maxWait")
        return (TokenBucket(rate: rate, burst: burst), burst, maxWait.clampedNanoseconds)
    }
}

extension LimiterInstruments {
    /// Counts a token-bucket refusal and returns its error, saying when the next token comes.
    func rateLimited(retryAfter: Int64) -> RefusedError {
        self.refused(.rateLimited)
        return RefusedError(.rateLimited, by: self.name, retryAfter: .nanoseconds(max(retryAfter, 1)))
    }

    /// Carries out a token-bucket decision taken at `now`: throws the refusal, or waits for the
    /// reserved token (a caller that cancels meanwhile gets its error, counted as `queue_timeout`),
    /// counting what happened.
    func settle(_ decision: TokenBucket.Decision, now: Int64, clock: ResilienceClock) async throws {
        switch decision {
        case .refuse(let retryAfter):
            throw self.rateLimited(retryAfter: retryAfter)
        case .admit(_, let wait):
            if wait > 0 {
                do {
                    try await clock.sleep(until: now &+ wait)
                } catch {
                    self.recordWait(nanoseconds: clock.now() - now)
                    self.refused(.queueTimeout)
                    throw error
                }
                self.recordWait(nanoseconds: wait)
            }
            self.admitted.increment()
        }
    }
}
