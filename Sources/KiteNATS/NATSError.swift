import Kite

/// Why a NATS operation failed.
///
/// It is a ``ServiceError``: a client endpoint throws it as it is, with a code that says what the
/// caller may do — retry on `UNAVAILABLE` (no responders, not connected, the reconnect buffer
/// full), not on `OUT_OF_RANGE` (a message past the server's `max_payload`).
public enum NATSError: ServiceError, Hashable, CustomStringConvertible {
    /// A subject that NATS does not accept: empty, with white space, or with an empty token.
    case invalidSubject(String)
    /// A header name or value that cannot be written: a name with white space, `:` or a
    /// control character, a value with CR or LF.
    case invalidHeader(name: String)
    /// A message larger than the server's `max_payload` (headers and payload together).
    case payloadTooLarge(size: Int, maxPayload: Int)
    /// The buffer that holds what is published while the connection is down (or cannot take
    /// more) is full; the message was not sent, and is counted as dropped.
    case reconnectBufferFull(limit: Int)
    /// The operation needs a connection and there is none now.
    case notConnected
    /// The client was closed.
    case closed
    /// Nobody subscribes to the subject a request went to (the server's `503` status).
    case noResponders(subject: String)
    /// No reply came within the request's timeout.
    case timedOut(subject: String, after: Duration)
    /// The server answered with `-ERR`.
    case server(String)
    /// The server sent something that is not the NATS protocol, or the connection's handshake
    /// failed.
    case protocolViolation(String)
    /// A server address that cannot be used.
    case invalidURL(String)
    /// A request body the responder could not decode (answered `INVALID_ARGUMENT`).
    case malformedRequest(String)
    /// A reply the requester could not decode.
    case malformedReply(String)

    public var code: ErrorCode {
        switch self {
        case .invalidSubject, .invalidHeader, .invalidURL, .malformedRequest: .invalidArgument
        case .payloadTooLarge: .outOfRange
        case .reconnectBufferFull, .notConnected, .noResponders: .unavailable
        case .closed: .cancelled
        case .timedOut: .deadlineExceeded
        case .server, .protocolViolation, .malformedReply: .internal
        }
    }

    /// Only a malformed request is an answer about the request; every other case is a failure
    /// of the call (a breaker counts it, a span is marked as an error).
    public var isBusinessError: Bool {
        if case .malformedRequest = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .invalidSubject(let subject): "invalid NATS subject '\(subject)'"
        case .invalidHeader(let name): "invalid NATS header '\(name)' (names: no white space, ':' or control characters; values: no CR or LF)"
        case .payloadTooLarge(let size, let maxPayload): "message of \(size) bytes exceeds the server's max_payload of \(maxPayload) bytes"
        case .reconnectBufferFull(let limit): "NATS reconnect buffer full (\(limit) bytes): message dropped"
        case .notConnected: "not connected to a NATS server"
        case .closed: "the NATS client is closed"
        case .noResponders(let subject): "no responders on NATS subject '\(subject)'"
        case .timedOut(let subject, let after): "no reply on NATS subject '\(subject)' within \(after)"
        case .server(let message): "NATS server error: \(message)"
        case .protocolViolation(let message): "NATS protocol violation: \(message)"
        case .invalidURL(let url): "invalid NATS server URL '\(url)' (nats://[user:password@|token@]host[:port])"
        case .malformedRequest(let message): "malformed request: \(message)"
        case .malformedReply(let message): "malformed reply: \(message)"
        }
    }
}
