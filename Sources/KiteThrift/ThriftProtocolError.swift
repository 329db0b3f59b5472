import Kite

/// What is wrong with Thrift bytes read from the wire.
public struct ThriftProtocolError: ServiceError, Hashable, CustomStringConvertible {
    /// What was wrong.
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    /// A malformed message is the sender's fault: `INVALID_ARGUMENT` (a failure of the call all
    /// the same: the caller's code or peer is broken, not its request's content).
    public var code: ErrorCode { .invalidArgument }
    public var isBusinessError: Bool { false }

    public var description: String { "Thrift protocol error: \(self.message)" }

    static let truncated = ThriftProtocolError("message truncated")
}
