import GRPCCore
import NIOCore

/// One method as Kite's gRPC engine serves it: bytes in, bytes out, the typed work (decoding,
/// the endpoint, encoding, the instrumentation) inside the handler ``GRPCRoutes`` made.
struct GRPCServedMethod: Sendable {
    /// How the handler takes its messages.
    enum Handler: Sendable {
        /// One request message in, one framed response message and the trailing metadata out:
        /// the unary fast path, with no stream or writer in between.
        case unary(@Sendable (ByteBuffer, GRPCServerCall) async throws -> (response: ByteBuffer, trailers: Metadata))
        /// Any streaming kind: the request messages as a sequence (of one message unless
        /// ``GRPCServedMethod/clientStreams``), responses written one by one; returns the trailing
        /// metadata.
        case streaming(@Sendable (GRPCRequestMessages, GRPCResponseWriter, GRPCServerCall) async throws -> Metadata)
    }

    let descriptor: MethodDescriptor
    /// Whether the caller sends a stream of messages (client and bidirectional streaming); the
    /// handler then starts when the call starts rather than when the request has ended.
    let clientStreams: Bool
    let handler: Handler
}
