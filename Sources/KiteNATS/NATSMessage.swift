import NIOCore

/// A message a subscription received (`MSG`/`HMSG`), or a reply to a request.
public struct NATSMessage: Sendable {
    /// The subject it was published to.
    public var subject: String
    /// Where to answer, when the publisher asked for an answer (a request's inbox).
    public var replyTo: String?
    /// Its headers, when it had any.
    public var headers: NATSHeaders?
    /// Its payload.
    public var payload: ByteBuffer

    /// Creates a message.
    public init(subject: String, replyTo: String? = nil, headers: NATSHeaders? = nil, payload: ByteBuffer) {
        self.subject = subject
        self.replyTo = replyTo
        self.headers = headers
        self.payload = payload
    }

    /// Whether the server made it to say that a request found no subscriber (status `503`,
    /// no payload).
    var isNoResponders: Bool {
        self.headers?.status == 503 && self.payload.readableBytes == 0
    }
}
