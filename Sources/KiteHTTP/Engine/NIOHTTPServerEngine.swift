import HTTPTypes
import Kite
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOHTTP2
import NIOHTTPTypesHTTP2
import NIOPosix
import Synchronization

/// Kite's own HTTP engine on SwiftNIO: HTTP/1.1 with keep-alive and pipelining, and cleartext
/// HTTP/2 (h2c, prior knowledge) on the same port, told apart by each connection's first bytes.
///
/// Each request is collected on its connection's event loop and answered by a task that prefers
/// that event loop as its executor, so a request costs no thread hop; SwiftNIO's HTTP/1 handlers
/// parse (a head over the limits is answered 400 and the connection closed) and hold pipelined
/// requests until the one before is answered. Graceful shutdown stops accepting, closes idle
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
        let group = MultiThreadedEventLoopGroup.singleton
        let quiesce = ServerQuiescingHelper(group: group)
        let connections = OpenConnections()
        let engine = self
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiesce.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                connections.insert(channel)
                return channel.eventLoop.makeCompletedFuture {
                    try engine.configure(channel)
                }
            }
            .bind(host: self.host, port: self.port)
            .get()
        readiness.setListening(true, for: registration)
        await onListening(server.localAddress?.port ?? 0)
        let finished = Finished(eventLoop: server.eventLoop)
        return try await readiness.serveUntilShutdown(
            timeout: timeout,
            onShutdown: {
                let quiesced = server.eventLoop.makePromise(of: Void.self)
                quiesce.initiateShutdown(promise: quiesced)
                quiesced.futureResult.whenComplete { _ in finished.complete() }
            },
            serve: {
                await withTaskCancellationHandler {
                    await finished.wait()
                } onCancel: {
                    // Not graceful, or its deadline passed: close every connection now.
                    let closing = [server.close()] + connections.closeAll()
                    EventLoopFuture.andAllComplete(closing, on: server.eventLoop).whenComplete { _ in finished.complete() }
                }
            }
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
                var limits = NIOHTTPDecoderLimitConfiguration()
                limits.maxHeaderFieldSize = maxHeaderSize
                limits.maxHeaderListSize = maxHeaderSize
                // SwiftNIO's parser; no pipelining helper (HTTPRequestHandler queues pipelined
                // requests), and the adapter writes responses itself (it answers parse errors too).
                try channel.pipeline.syncOperations.addHandler(
                    ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes, limitConfiguration: limits))
                )
                try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPTypesAdapter())
                try channel.pipeline.syncOperations.addHandler(HTTPRequestHandler(responder: responder, isHTTP1: true))
            }
        }
        try channel.pipeline.syncOperations.addHandler(sniffer)
    }
}

/// The connections open now, to close them all at the shutdown deadline.
private final class OpenConnections: Sendable {
    private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

    func insert(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        self.channels.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { _ in
            _ = self.channels.withLock { $0.removeValue(forKey: id) }
        }
    }

    /// Closes every connection; the futures complete when they have closed.
    func closeAll() -> [EventLoopFuture<Void>] {
        let channels = self.channels.withLock { Array($0.values) }
        return channels.map { channel in
            channel.close().flatMapErrorThrowing { _ in }
        }
    }
}

/// Completed once, by whichever comes first: graceful shutdown's end or the forced close.
private final class Finished: Sendable {
    private let promise: EventLoopPromise<Void>
    private let done = Atomic<Bool>(false)

    init(eventLoop: any EventLoop) {
        self.promise = eventLoop.makePromise()
    }

    func complete() {
        if !self.done.exchange(true, ordering: .acquiringAndReleasing) { self.promise.succeed() }
    }

    func wait() async {
        try? await self.promise.futureResult.get()
    }
}
