import NIOCore
import NIOExtras
import NIOPosix
import Synchronization

/// The listening socket and the graceful shutdown shared by Kite's own SwiftNIO engines (HTTP and
/// gRPC): each engine only says how a new connection's pipeline is configured.
///
/// Graceful shutdown stops accepting and sends every connection a `ChannelShouldQuiesceEvent`
/// (each protocol's handlers then finish what is in flight and close); the server returns once
/// every connection has closed. At the deadline every connection is closed, which cancels the
/// tasks of what was still in flight.
package struct NIOServer: Sendable {
    package let host: String
    package let port: Int

    package init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Serves until graceful shutdown has finished, or until cancelled (then closes everything).
    /// - Parameters:
    ///   - readiness: Told when the server listens.
    ///   - timeout: How long work in flight may take once graceful shutdown begins.
    ///   - onListening: Called with the bound port.
    ///   - configure: Sets up a new connection's pipeline, on its event loop.
    /// - Returns: `false` when the deadline passed with work still in flight.
    package func run(
        readiness: Readiness,
        registration: Readiness.Registration,
        timeout: Duration,
        onListening: @escaping @Sendable (Int) async -> Void,
        configure: @escaping @Sendable (any Channel) throws -> Void
    ) async throws -> Bool {
        let group = MultiThreadedEventLoopGroup.singleton
        let quiesce = ServerQuiescingHelper(group: group)
        let connections = OpenConnections()
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
                    try configure(channel)
                }
            }
            .bind(host: self.host, port: self.port)
            .get()
        await onListening(server.localAddress?.port ?? 0)
        // Ready only once the listening callback has run: what it records (the port) is there
        // for whoever waits for readiness (a registration).
        readiness.setListening(true, for: registration)
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
