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
