import KiteTelemetry

/// How an ``AdaptiveConcurrencyLimiter`` moves its limit after each call (Netflix's
/// concurrency-limits): a limit that follows measured latency, so nobody tunes a number.
public struct ConcurrencyLimitAlgorithm: Sendable {
    enum Model: Sendable {
        case aimd(backoffRatio: Double, timeout: Duration)
        case gradient(smoothing: Double, tolerance: Double, longWindow: Int)
    }

    let model: Model
    let initialLimit: Int
    let minLimit: Int
    let maxLimit: Int

    /// Additive increase, multiplicative decrease: the limit grows by one after a call that ran
    /// while at least half the limit was in use, and shrinks to `backoffRatio` of itself after a
    /// call that failed or took longer than `timeout`.
    public static func aimd(
        initialLimit: Int = 20,
        minLimit: Int = 1,
        maxLimit: Int = 200,
        backoffRatio: Double = 0.9,
        timeout: Duration = .seconds(5)
    ) -> ConcurrencyLimitAlgorithm {
        ConcurrencyLimitAlgorithm(
            model: .aimd(backoffRatio: backoffRatio, timeout: timeout),
            initialLimit: initialLimit,
            minLimit: minLimit,
            maxLimit: maxLimit
        )
    }

    /// Netflix's Gradient2: compares the latency of each call with a long-run average; while it
    /// stays within `tolerance` × that average the limit grows by about its square root (room for
    /// a queue), and as latency rises the limit shrinks in proportion (by half at most per call),
    /// each step smoothed by `smoothing`.
    public static func gradient(
        initialLimit: Int = 20,
        minLimit: Int = 1,
        maxLimit: Int = 200,
        smoothing: Double = 0.2,
        tolerance: Double = 1.5,
        longWindow: Int = 600
    ) -> ConcurrencyLimitAlgorithm {
        ConcurrencyLimitAlgorithm(
            model: .gradient(smoothing: smoothing, tolerance: tolerance, longWindow: longWindow),
            initialLimit: initialLimit,
            minLimit: minLimit,
            maxLimit: maxLimit
        )
    }

    func validate(_ check: ConfigurationCheck) throws {
        try check.positive(self.minLimit, "minLimit")
        try check.that(self.maxLimit >= self.minLimit, "maxLimit (\(self.maxLimit)) must not be below minLimit (\(self.minLimit))")
        try check.that(
            (self.minLimit...self.maxLimit).contains(self.initialLimit),
            "initialLimit (\(self.initialLimit)) must be within minLimit...maxLimit (\(self.minLimit)...\(self.maxLimit))"
        )
        switch self.model {
        case .aimd(let backoffRatio, let timeout):
            try check.that(backoffRatio > 0 && backoffRatio < 1, "backoffRatio must be in (0, 1), got \(backoffRatio)")
            try check.positive(timeout, "timeout")
        case .gradient(let smoothing, let tolerance, let longWindow):
            try check.ratio(smoothing, "smoothing")
            try check.that(tolerance >= 1 && tolerance.isFinite, "tolerance must be at least 1, got \(tolerance)")
            try check.positive(longWindow, "longWindow")
        }
    }
}

/// The limit and what the algorithm remembers between calls. Not synchronised.
struct ConcurrencyLimitEstimate {
    let algorithm: ConcurrencyLimitAlgorithm
    /// The limit as a real number; the limiter admits its integer part.
    private(set) var limit: Double
    /// Gradient2's long-run average latency, in nanoseconds.
    private var longLatency: Double = 0
    private var samples = 0

    init(_ algorithm: ConcurrencyLimitAlgorithm) {
        self.algorithm = algorithm
        self.limit = Double(algorithm.initialLimit)
    }

    /// Updates the limit after a call that took `latency` nanoseconds while `inFlight` calls ran
    /// (itself included); `dropped` when it failed.
    mutating func update(latency: Int64, inFlight: Int, dropped: Bool) {
        let latency = Double(max(latency, 1))
        switch self.algorithm.model {
        case .aimd(let backoffRatio, let timeout):
            if dropped || latency > Double(timeout.clampedNanoseconds) {
                self.limit = (self.limit * backoffRatio).rounded(.down)
            } else if Double(inFlight) * 2 >= self.limit {
                self.limit += 1
            }
        case .gradient(let smoothing, let tolerance, let longWindow):
            self.samples += 1
            if self.samples <= 10 {
                // Warm-up: a plain average of the first samples.
                self.longLatency += (latency - self.longLatency) / Double(self.samples)
            } else {
                self.longLatency += (latency - self.longLatency) / Double(longWindow)
            }
            // Recovering from a slow spell: let the long average come down faster.
            if self.longLatency / latency > 2 { self.longLatency *= 0.95 }
            // A limit far above what is used says nothing about latency under load.
            guard Double(inFlight) >= self.limit / 2 else { return }
            let gradient = max(0.5, min(1.0, tolerance * self.longLatency / latency))
            let target = self.limit * gradient + self.limit.squareRoot()
            self.limit = self.limit * (1 - smoothing) + target * smoothing
        }
        self.limit = min(max(self.limit, Double(self.algorithm.minLimit)), Double(self.algorithm.maxLimit))
    }
}
