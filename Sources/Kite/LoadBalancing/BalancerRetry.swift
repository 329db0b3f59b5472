/// How a load-balanced endpoint tries a failed call again: on the instance the balancer picks
/// next (one not tried yet when there is one), up to ``maxAttempts`` attempts in all, within
/// ``timeout`` and the call's deadline, and only while the ``budget`` allows.
///
/// Only failures are retried, never business errors (an answer is the same on every instance),
/// and never a cancelled call. There is no backoff: the next attempt goes to another instance.
public struct BalancerRetry: Sendable {
    /// Attempts in all, the first included (1: no retry).
    public var maxAttempts: Int
    /// The time all attempts together may take; `nil` for no limit beyond the call's deadline.
    public var timeout: Duration?
    /// A budget shared by calls, bounding retries to a fraction of calls.
    public var budget: RetryBudget?
    /// Which errors are retried. Default ``isRetryableByDefault(_:)``.
    public var isRetryable: @Sendable (any Error) -> Bool

    /// Creates a retry policy.
    public init(
        maxAttempts: Int,
        timeout: Duration? = nil,
        budget: RetryBudget? = nil,
        isRetryable: @escaping @Sendable (any Error) -> Bool = BalancerRetry.isRetryableByDefault
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.timeout = timeout
        self.budget = budget
        self.isRetryable = isRetryable
    }

    /// One attempt, no retry.
    public static let none = BalancerRetry(maxAttempts: 1)

    /// Every failure (``CallOutcome/failure``) but a cancelled call and ``NoInstancesError``:
    /// another instance may well answer what this one could not. (A retry that would start after
    /// the timeout or the call's deadline is not made, whatever the error.)
    public static func isRetryableByDefault(_ error: any Error) -> Bool {
        CallOutcome(of: error) == .failure && !(error is NoInstancesError) && CallOutcome.code(of: error) != .cancelled
    }
}
