import KiteTelemetry

/// When and how a ``Middleware/retry(_:name:telemetry:clock:random:)`` tries a call again.
///
/// ```swift
/// let policy = RetryPolicy(maxAttempts: 3, budget: try RetryBudget(ratio: 0.2))
/// let sum = client.endpoint(...).with(try .retry(policy, name: "sum", telemetry: telemetry))
/// ```
public struct RetryPolicy: Sendable {
    /// Attempts at most, the first included (at least 1). Default 3.
    public var maxAttempts: Int
    /// The backoff before the first retry; it doubles with each retry. Default 50 ms.
    public var initialBackoff: Duration
    /// The longest backoff. Default 2 s.
    public var maxBackoff: Duration
    /// The time all attempts together may take; `nil` for no limit but the call's deadline.
    /// At the limit the attempt running is cancelled and the call throws ``TimeoutError``.
    public var timeout: Duration?
    /// Whether a call that threw this error may be tried again. Default ``isRetryableByDefault(_:)``.
    public var isRetryable: @Sendable (any Error) -> Bool
    /// The budget retries draw from; `nil` for none (retries then multiply load on a failing
    /// dependency by up to `maxAttempts`).
    public var budget: RetryBudget?

    /// Creates a policy.
    public init(
        maxAttempts: Int = 3,
        initialBackoff: Duration = .milliseconds(50),
        maxBackoff: Duration = .seconds(2),
        timeout: Duration? = nil,
        budget: RetryBudget? = nil,
        isRetryable: @escaping @Sendable (any Error) -> Bool = RetryPolicy.isRetryableByDefault
    ) {
        self.maxAttempts = maxAttempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.timeout = timeout
        self.budget = budget
        self.isRetryable = isRetryable
    }

    /// The default: failures whose code says a later try may succeed — `UNAVAILABLE`,
    /// `RESOURCE_EXHAUSTED`, `ABORTED`, `DEADLINE_EXCEEDED` — except local refusals
    /// (``RefusedError``: an open breaker refuses the retry too) and cancellation. Business errors
    /// and unknown errors (likely bugs) are not retried.
    @Sendable
    public static func isRetryableByDefault(_ error: any Error) -> Bool {
        if error is RefusedError || error is CancellationError { return false }
        guard CallOutcome(of: error) == .failure else { return false }
        switch CallOutcome.code(of: error) {
        case .unavailable, .resourceExhausted, .aborted, .deadlineExceeded: return true
        default: return false
        }
    }

    func validate(_ check: ConfigurationCheck) throws {
        try check.positive(self.maxAttempts, "maxAttempts")
        try check.nonNegative(self.initialBackoff, "initialBackoff")
        try check.that(
            self.maxBackoff >= self.initialBackoff,
            "maxBackoff (\(self.maxBackoff)) must not be shorter than initialBackoff (\(self.initialBackoff))"
        )
        if let timeout = self.timeout { try check.positive(timeout, "timeout") }
    }

    /// The full-jitter backoff before retry `retry` (1 for the first): a uniform draw in
    /// `0...min(maxBackoff, initialBackoff · 2^(retry − 1))`.
    func backoff(beforeRetry retry: Int, random: Double) -> Int64 {
        let initial = Double(self.initialBackoff.clampedNanoseconds)
        let ceiling = min(Double(self.maxBackoff.clampedNanoseconds), initial * pow2(retry - 1))
        return Int64(ceiling * random)
    }
}

private func pow2(_ exponent: Int) -> Double {
    exponent >= 62 ? .infinity : Double(UInt64(1) << UInt64(max(exponent, 0)))
}
