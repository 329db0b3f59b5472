/// A call that did not finish before the deadline a ``Middleware/timeout(_:name:clock:)`` set: the
/// error says which endpoint timed out and after how long. Transports answer it with
/// `DEADLINE_EXCEEDED` — HTTP 504. It is a failure (it trips breakers and may be retried).
public struct TimeoutError: ServiceError, Hashable, CustomStringConvertible {
    /// The name given to the timeout middleware, usually the endpoint's.
    public var endpoint: String
    /// The time the call was given.
    public var after: Duration

    /// Creates a timeout error.
    public init(endpoint: String, after: Duration) {
        self.endpoint = endpoint
        self.after = after
    }

    public var code: ErrorCode { .deadlineExceeded }

    public var description: String { "\(self.endpoint) timed out after \(self.after.formattedSeconds)" }
}
