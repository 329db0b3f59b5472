import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdHTTP2
import Kite
import KiteTelemetry
import Logging
import NIOSSL
import NIOCore
import ServiceLifecycle

/// An HTTP server for Kite endpoints: HTTP/1.1 with keep-alive and cleartext HTTP/2 (h2c, prior
/// knowledge) on the same port, told apart by each connection's first bytes — or, with
/// ``Configuration/tls``, HTTP/2 and HTTP/1.1 over TLS, chosen by ALPN.
///
/// Cleartext is served by Kite's own engine on SwiftNIO (``Configuration/Engine/nio``), which
/// answers each request on its connection's event loop; TLS, and cleartext with
/// ``Configuration/Engine/hummingbird``, by Hummingbird 2. Both serve the same routes the same way.
///
/// ```swift
/// let server = HTTPServer(port: 8080, telemetry: telemetry) { routes in
///     routes.post("/uppercase", uppercase)
///     routes.metrics("/metrics")
/// }
/// try await ServiceGroup(services: [server, telemetry], logger: telemetry.logger).run()
/// ```
///
/// Requests are decoded and answered by the route's ``HTTPCodec``; malformed JSON gets 400, a body
/// over ``Configuration/maxBodySize`` gets 413, an unknown route 404 — all with a JSON error body,
/// all recorded in `http_server_request_duration_seconds`. To serve Kite routes from a Hummingbird
/// application you already have, use `Router.addKiteRoutes(_:telemetry:maxBodySize:)` instead.
public struct HTTPServer: Service {
    /// Where and how to listen.
    public struct Configuration: Sendable {
        /// The address. Default `0.0.0.0`.
        public var host: String
        /// The port, 0…65535; `0` lets the system choose. Default `8080`.
        public var port: Int
        /// The largest request body accepted, in bytes. Default 1 MiB.
        public var maxBodySize: Int
        /// The largest request head accepted, in bytes: on Kite's engine the request line and
        /// every field line with their line ends (and the same for a chunked body's trailer
        /// section); on Hummingbird's, one field and all of them together. A larger one is
        /// answered `400 Bad Request` and the connection closes. Default 64 KiB.
        public var maxHeaderSize: Int
        /// How long requests in flight may take to finish once graceful shutdown starts; then the
        /// server stops without waiting for them. Default 10 s.
        public var shutdownTimeout: Duration
        /// Whether to serve `GET /livez` and `GET /readyz`. Default `true`.
        public var healthRoutes: Bool
        /// When set, the server speaks TLS — HTTP/2 and HTTP/1.1, chosen by ALPN — instead of
        /// cleartext HTTP/1.1 and h2c. Default `nil`.
        public var tls: TLSConfiguration?
        /// What serves cleartext connections. Default ``Engine/nio``.
        public var engine: Engine

        /// What serves the connections.
        public enum Engine: Sendable {
            /// Kite's own engine on SwiftNIO: each request answered on its connection's event
            /// loop, without a thread hop. (TLS is served by Hummingbird either way.)
            case nio
            /// Hummingbird 2's server.
            case hummingbird
        }

        /// Creates a configuration.
        public init(
            host: String = "0.0.0.0",
            port: Int = 8080,
            maxBodySize: Int = 1 << 20,
            maxHeaderSize: Int = 64 << 10,
            shutdownTimeout: Duration = .seconds(10),
            healthRoutes: Bool = true,
            tls: TLSConfiguration? = nil,
            engine: Engine = .nio
        ) {
            self.host = host
            self.port = port
            self.maxBodySize = maxBodySize
            self.maxHeaderSize = maxHeaderSize
            self.shutdownTimeout = shutdownTimeout
            self.healthRoutes = healthRoutes
            self.tls = tls
            self.engine = engine
        }
    }

    /// The configuration.
    public let configuration: Configuration
    /// The readiness `/readyz` reports, shared with the other servers of the service.
    public let readiness: Readiness
    private let registration: Readiness.Registration
    private let application: Application<RouterResponder<BasicRequestContext>>
    private let engine: NIOHTTPServerEngine?
    private let onListening: @Sendable (Int) async -> Void
    private let logger: Logger

    /// Creates a server.
    /// - Parameters:
    ///   - configuration: Address, port, body limit.
    ///   - telemetry: The pipeline requests are recorded in.
    ///   - readiness: The readiness shared by the servers of the service; a new one by default.
    ///   - onListening: Called with the bound port once the server accepts connections, before
    ///     the server counts as ready in `readiness`.
    ///   - routes: Adds the routes.
    public init(
        configuration: Configuration,
        telemetry: Telemetry,
        readiness: Readiness = Readiness(),
        onListening: @escaping @Sendable (Int) async -> Void = { _ in },
        routes: (inout HTTPRoutes) -> Void
    ) {
        self.configuration = configuration
        self.readiness = readiness
        let registration = readiness.register()
        self.registration = registration
        var list = HTTPRoutes(telemetry: telemetry)
        routes(&list)
        if configuration.healthRoutes {
            list.health(readiness)
        }
        self.onListening = onListening
        self.engine =
            configuration.engine == .nio && configuration.tls == nil
            ? NIOHTTPServerEngine(
                host: configuration.host,
                port: configuration.port,
                maxHeaderSize: configuration.maxHeaderSize,
                responder: HTTPRequestResponder(
                    table: HTTPRouteTable(list),
                    instrumentation: HTTPServerInstrumentation(telemetry: telemetry),
                    maxBodySize: configuration.maxBodySize
                )
            )
            : nil
        let router = Router()
        router.addKiteRoutes(list, telemetry: telemetry, maxBodySize: configuration.maxBodySize)
        var http1 = HTTP1Channel.Configuration()
        http1.httpDecoder = .init(
            maxHeaderFieldSize: configuration.maxHeaderSize,
            maxHeaderListSize: configuration.maxHeaderSize,
            maxHeaderFieldCount: 1000
        )
        let channel = http1
        let server: HTTPServerBuilder =
            if let tls = configuration.tls {
                HTTPServerBuilder { responder in
                    try HTTP2UpgradeChannel(tlsConfiguration: tls, configuration: .init(streamConfiguration: channel), responder: responder)
                }
            } else {
                HTTPServerBuilder { responder in HTTP1AndH2CChannel(responder: responder, configuration: channel) }
            }
        self.logger = telemetry.makeLogger(label: "kite.http")
        self.application = Application(
            router: router,
            server: server,
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.host, port: configuration.port),
                serverName: nil
            ),
            onServerRunning: { channel in
                await onListening(channel.localAddress?.port ?? 0)
                // Ready only once the listening callback has run: what it records (the port) is there
                // for whoever waits for readiness (a registration).
                readiness.setListening(true, for: registration)
            },
            logger: telemetry.makeLogger(label: "kite.http")
        )
    }

    /// Creates a server on `port` of all interfaces.
    public init(
        port: Int,
        telemetry: Telemetry,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in },
        routes: (inout HTTPRoutes) -> Void
    ) {
        self.init(configuration: Configuration(port: port), telemetry: telemetry, onListening: onListening, routes: routes)
    }

    /// Serves until graceful shutdown. Throws at once when the port is outside 0…65535 (the
    /// socket layer would otherwise wrap it to 16 bits and listen somewhere unexpected).
    ///
    /// When graceful shutdown starts the service turns not ready (`/readyz` and gRPC's health
    /// answer so), and the server stops accepting connections and finishes the requests in
    /// flight — for at most ``Configuration/shutdownTimeout``, after which it stops anyway.
    public func run() async throws {
        guard (0...65535).contains(self.configuration.port) else {
            throw HTTPServerError.portOutOfRange(self.configuration.port)
        }
        let timeout = self.configuration.shutdownTimeout
        defer { self.readiness.setListening(false, for: self.registration) }
        let finished =
            if let engine = self.engine {
                try await engine.run(readiness: self.readiness, registration: self.registration, timeout: timeout, onListening: self.onListening)
            } else {
                try await self.readiness.serveUntilShutdown(timeout: timeout, serve: self.application.run)
            }
        if !finished {
            self.logger.warning("http: requests still in flight \(timeout) after graceful shutdown began were cancelled")
        }
    }
}

/// Why an ``HTTPServer`` could not start.
public enum HTTPServerError: Error, CustomStringConvertible {
    /// The configured port is not in 0…65535.
    case portOutOfRange(Int)

    public var description: String {
        switch self {
        case .portOutOfRange(let port): "port \(port) is not in 0…65535"
        }
    }
}
