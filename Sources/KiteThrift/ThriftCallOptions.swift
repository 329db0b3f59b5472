import Kite

/// How a Thrift client endpoint calls.
public struct ThriftCallOptions: Sendable {
    /// How long a call waits for its reply, when the caller's deadline is not sooner. Default 5 s.
    public var timeout: Duration
    /// Turns a `TApplicationException` the server answered with (as a ``RemoteError``) into the
    /// error the caller gets. Default: the ``RemoteError``.
    public var decodeError: @Sendable (RemoteError) -> any Error

    public init(timeout: Duration = .seconds(5), decodeError: @escaping @Sendable (RemoteError) -> any Error = { $0 }) {
        self.timeout = timeout
        self.decodeError = decodeError
    }
}
