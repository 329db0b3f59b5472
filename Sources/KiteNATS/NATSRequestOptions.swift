import Kite

/// How a NATS client endpoint calls.
public struct NATSRequestOptions: Sendable {
    /// How long a call waits for its reply, when the caller's deadline is not sooner. Default 5 s.
    public var timeout: Duration
    /// Turns an error the responder answered with into the error the caller gets — the
    /// service's own error with ``RemoteError/matching(_:)``. Default: the ``RemoteError``.
    public var decodeError: @Sendable (RemoteError) -> any Error

    /// Creates options.
    public init(timeout: Duration = .seconds(5), decodeError: @escaping @Sendable (RemoteError) -> any Error = { $0 }) {
        self.timeout = timeout
        self.decodeError = decodeError
    }
}
