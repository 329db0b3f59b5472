import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// A small HTTP/1.1 listener that serves `GET /metrics` (and `HEAD`) for Prometheus — the
/// stand-alone scrape endpoint, on port 9464 by default as OpenTelemetry's Prometheus exporter.
///
/// Other paths get 404, other methods 405. Run it as a swift-service-lifecycle `Service`, or
/// ``bind(configuration:handler:logger:)`` it yourself to learn the port the system chose.
public struct PrometheusScrapeServer: Service {
    /// Where to listen.
    public struct Configuration: Sendable, Hashable {
        /// The address. Default `localhost`.
        public var host: String
        /// The port, 0…65535; `0` lets the system choose. Default `9464`.
        public var port: Int
        /// The path served. Default `/metrics`.
        public var path: String

        /// Creates a configuration.
        public init(host: String = "localhost", port: Int = 9464, path: String = "/metrics") {
            self.host = host
            self.port = port
            self.path = path
        }
    }

    /// Where it listens.
    public let configuration: Configuration
    /// What it answers with.
    public let handler: PrometheusScrapeHandler
    private let logger: Logger

    /// Creates a server; it listens once ``run()`` runs.
    public init(configuration: Configuration = .init(), handler: PrometheusScrapeHandler, logger: Logger) {
        self.configuration = configuration
        self.handler = handler
        self.logger = logger
    }

    /// Listens until graceful shutdown or cancellation. If the address cannot be bound, the error
    /// is logged and the service returns without failing the others: the process keeps serving
    /// without its stand-alone scrape endpoint.
    public func run() async throws {
        let listener: Listener
        do {
            listener = try await Self.bind(configuration: self.configuration, handler: self.handler, logger: self.logger)
        } catch {
            self.logger.error(
                "prometheus scrape listener could not bind; metrics are not served on it",
                metadata: ["host": "\(self.configuration.host)", "port": "\(self.configuration.port)", "error": "\(error)"]
            )
            return
        }
        self.logger.info("prometheus scrape listener started", metadata: ["address": "\(listener.address)"])
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                try? await listener.channel.closeFuture.get()
            } onGracefulShutdown: {
                listener.channel.close(promise: nil)
            }
        } onCancel: {
            listener.channel.close(promise: nil)
        }
    }

    /// A bound listener.
    public struct Listener: Sendable {
        let channel: any Channel
        /// The address it listens on.
        public var address: String { self.channel.localAddress?.description ?? "?" }
        /// The port it listens on.
        public var port: Int { self.channel.localAddress?.port ?? 0 }
        /// Stops listening.
        public func close() async throws {
            try await self.channel.close()
        }
    }

    /// Binds a listener now and returns it.
    public static func bind(
        configuration: Configuration,
        handler: PrometheusScrapeHandler,
        logger: Logger,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> Listener {
        guard (0...65535).contains(configuration.port) else {
            throw IOError(errnoCode: EINVAL, reason: "port \(configuration.port) is not in 0…65535")
        }
        let path = configuration.path
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(ScrapeChannelHandler(handler: handler, path: path))
                }
            }
            .bind(host: configuration.host, port: configuration.port)
            .get()
        return Listener(channel: channel)
    }
}

/// Answers each HTTP/1 request on one connection.
private final class ScrapeChannelHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let handler: PrometheusScrapeHandler
    private let path: String
    private var head: HTTPRequestHead?

    init(handler: PrometheusScrapeHandler, path: String) {
        self.handler = handler
        self.path = path
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head = self.head else { return }
            self.head = nil
            self.respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let requestPath = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        var headers = HTTPHeaders()
        let status: HTTPResponseStatus
        var body: ByteBuffer
        if requestPath != self.path {
            status = .notFound
            body = ByteBuffer(string: "not found; metrics are at \(self.path)\n")
            headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        } else if head.method != .GET && head.method != .HEAD {
            status = .methodNotAllowed
            body = ByteBuffer(string: "use GET\n")
            headers.add(name: "Allow", value: "GET, HEAD")
            headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        } else {
            let response = self.handler.respond(
                accept: head.headers.first(name: "Accept"),
                acceptEncoding: head.headers.first(name: "Accept-Encoding")
            )
            status = .ok
            body = response.body
            headers.add(name: "Content-Type", value: response.contentType)
            if let encoding = response.contentEncoding { headers.add(name: "Content-Encoding", value: encoding) }
        }
        headers.add(name: "Content-Length", value: "\(body.readableBytes)")
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        if head.method == .HEAD { body.clear() }
        context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        if body.readableBytes > 0 {
            context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        let done = context.writeAndFlush(self.wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
