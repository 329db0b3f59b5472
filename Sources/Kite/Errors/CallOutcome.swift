/// How a call ended, as telemetry and resilience middleware see it.
///
/// ```swift
/// if CallOutcome(of: error) == .failure { breaker.recordFailure() }
/// ```
public enum CallOutcome: Sendable, Hashable {
    /// It returned.
    case success
    /// It threw a business error: an answer about the request (``ServiceError/isBusinessError``).
    case businessError
    /// It failed: a timeout, a refused connection, a 5xx, a bug — any error that is not a
    /// business error, including errors that are not ``ServiceError``s at all.
    case failure

    /// The outcome of a call that threw `error`.
    public init(of error: any Error) {
        if let error = error as? any ServiceError, error.isBusinessError {
            self = .businessError
        } else {
            self = .failure
        }
    }

    /// The value of the `outcome` label: `success`, `business_error` or `failure`.
    public var label: String {
        switch self {
        case .success: "success"
        case .businessError: "business_error"
        case .failure: "failure"
        }
    }

    /// The code a transport answers `error` with: its own when it is a ``ServiceError``,
    /// ``ErrorCode/cancelled`` for a `CancellationError`, ``ErrorCode/unknown`` otherwise.
    public static func code(of error: any Error) -> ErrorCode {
        switch error {
        case let error as any ServiceError: error.code
        case is CancellationError: .cancelled
        default: .unknown
        }
    }
}
