import HTTPTypes
import Kite
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOHTTPTypesHTTP2
import NIOPosix

/// Kite's own HTTP engine on SwiftNIO: HTTP/1.1 with keep-alive and pipelining, and cleartext
/// HTTP/2 (h2c, prior knowledge) on the same port, told apart by each connection's first bytes.
///
/// Each request is collected on its connection's event loop and answered by a task that prefers
/// that event loop as its executor, so a request costs no thread hop; ``HTTP1ServerCodec`` reads
/// HTTP/1 requests (a head over the limit, or any the parser rejects, is answered 400 and the
/// connection closed) and ``HTTPRequestHandler`` holds pipelined requests until the one before is
/// answered. Graceful shutdown stops accepting, closes idle
/// connections, lets requests in flight finish and then closes their connections (HTTP/2:
/// `GOAWAY`); at the deadline every connection is closed and the tasks of its requests cancelled.
struct NIOHTTPServerEngine: Sendable {
    let host: String
    let port: Int
    let maxHeaderSize: Int
    let responder: HTTPRequestResponder

    /// Serves until graceful shutdown has finished, or until cancelled (then closes everything).
    /// - Parameters:
    ///   - readiness: Told when the server listens.
    ///   - timeout: How long requests in flight may take once graceful shutdown begins.
    ///   - onListening: Called with the bound port.
    /// - Returns: `false` when the deadline passed with requests still in flight.
    func run(
        readiness: Readiness,
        registration: Readiness.Registration,
        timeout: Duration,
        onListening: @escaping @Sendable (Int) async -> Void
    ) async throws -> Bool {
        let engine = self
        return try await NIOServer(host: self.host, port: self.port).run(
            readiness: readiness,
            registration: registration,
            timeout: timeout,
            onListening: onListening,
            configure: { channel in try engine.configure(channel) }
        )
    }

    /// Sets up a new connection: the first bytes decide between HTTP/1.1 and h2c.
    private func configure(_ channel: any Channel) throws {
        let responder = self.responder
        let maxHeaderSize = self.maxHeaderSize
        let negotiated = channel.eventLoop.makePromise(of: Void.self)
        let sniffer = HTTPPrefaceSniffer<Void>(negotiated: negotiated) { isHTTP2 in
            if isHTTP2 {
                return channel.configureHTTP2Pipeline(
                    mode: .server,
                    connectionConfiguration: .init(),
                    streamConfiguration: .init()
                ) { stream in
                    stream.eventLoop.makeCompletedFuture {
                        try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTPServerCodec())
                        try stream.pipeline.syncOperations.addHandler(HTTPRequestHandler(responder: responder, isHTTP1: false))
                    }
                }.map { _ in () }
            }
            return channel.eventLoop.makeCompletedFuture {
                // Kite's parser and response writer in one handler (it answers parse errors too);
                // no pipelining helper: HTTPRequestHandler queues pipelined requests.
                try channel.pipeline.syncOperations.addHandler(HTTP1ServerCodec(maxHeadSize: maxHeaderSize))
                try channel.pipeline.syncOperations.addHandler(HTTPRequestHandler(responder: responder, isHTTP1: true))
            }
        }
        do {
            try channel.pipeline.syncOperations.addHandler(sniffer)
        } catch {
            // A connection closed before it could be set up: the sniffer never joined the pipeline.
            sniffer.settle(.failure(error))
            throw error
        }
    }
}
