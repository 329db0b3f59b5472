import NIOCore

/// Writes the response messages of a streaming call to its HTTP/2 stream, one framed message at
/// a time; each write returns once the message has gone to the connection (HTTP/2 flow control
/// holds it while the caller's window is shut), so a fast producer waits for a slow reader.
/// A write after the call has ended (the caller left, the deadline passed) throws.
final class GRPCResponseWriter: Sendable {
    private let eventLoop: any EventLoop
    private let send: @Sendable (ByteBuffer, EventLoopPromise<Void>) -> Void

    /// - Parameter send: Writes one framed message; runs on `eventLoop`.
    init(eventLoop: any EventLoop, send: @escaping @Sendable (ByteBuffer, EventLoopPromise<Void>) -> Void) {
        self.eventLoop = eventLoop
        self.send = send
    }

    /// Writes one framed message.
    func write(_ message: ByteBuffer) async throws {
        let written = self.eventLoop.makePromise(of: Void.self)
        if self.eventLoop.inEventLoop {
            self.send(message, written)
        } else {
            self.eventLoop.execute { self.send(message, written) }
        }
        try await written.futureResult.get()
    }
}
