import GRPCCore
import Kite
import KiteTelemetry
import Logging
import NIOCore
import NIOHPACK
import NIOHTTP2
import ServiceLifecycle

/// A gRPC server for Kite endpoints, on Kite's own gRPC engine over SwiftNIO's HTTP/2.
///
/// ```swift
/// let server = GRPCEndpointServer(configuration: .init(port: 8082), telemetry: telemetry) { routes in
///     routes.unary(Pb_Add.Method.Sum.descriptor, endpoints.sum, decode: …, encode: …)
/// }
/// try await ServiceGroup(services: [telemetry, server], logger: telemetry.logger).run()
/// ```
///
/// Every call runs in a server span continuing the caller's trace (from the metadata, by the
/// pipeline's propagators), under the caller's deadline (`grpc-timeout`, in the
/// `ServiceContext`), and is recorded in `rpc_server_call_duration_seconds`. Errors are answered
/// under Kite's error model. The server also serves the standard health service
/// (`grpc.health.v1.Health`) from its ``Readiness``. Server reflection is not served: the
/// packages Kite builds on do not offer it.
///
/// On graceful shutdown it turns not ready, stops accepting calls, lets the calls in flight
/// finish for up to ``Configuration/shutdownTimeout``, then cancels what is left.
public struct GRPCEndpointServer: Service {
    /// Where and how to listen.
    public struct Configuration: Sendable {
        /// The address to bind: an IPv4 or IPv6 literal, or `localhost`. Default `0.0.0.0`.
        public var host: String
        /// The port, 0…65535; `0` lets the system choose. Default `8082`.
        public var port: Int
        /// The largest request message accepted, in bytes; a larger one is answered
        /// `RESOURCE_EXHAUSTED` with both sizes as soon as its length prefix arrives, and none of
        /// it is kept. Default 4 MiB (gRPC's usual limit).
        public var maxRequestMessageSize: Int
        /// How long calls in flight may take to finish once graceful shutdown starts. Default 10 s.
        public var shutdownTimeout: Duration
        /// Whether health checks get spans (they always get metrics). Default `false`, as
        /// OpenTelemetry's instrumentations leave health probes out of traces.
        public var traceHealthChecks: Bool

        /// Creates a configuration.
        public init(
            host: String = "0.0.0.0",
            port: Int = 8082,
            maxRequestMessageSize: Int = 4 << 20,
            shutdownTimeout: Duration = .seconds(10),
            traceHealthChecks: Bool = false
        ) {
            self.host = host
            self.port = port
            self.maxRequestMessageSize = maxRequestMessageSize
            self.shutdownTimeout = shutdownTimeout
            self.traceHealthChecks = traceHealthChecks
        }
    }

    /// The configuration.
    public let configuration: Configuration
    /// The readiness its health service reports, shared with the other servers of the service.
    public let readiness: Readiness
    private let registration: Readiness.Registration
    private let shared: GRPCServerStream.Shared
    private let onListening: @Sendable (Int) async -> Void
    private let logger: Logger

    /// Creates a server.
    /// - Parameters:
    ///   - configuration: Address, port, limits.
    ///   - telemetry: The pipeline calls are recorded in.
    ///   - readiness: The readiness shared by the servers of the service; a new one by default.
    ///   - onListening: Called with the bound port once the server accepts connections, before
    ///     the server counts as ready in `readiness`.
    ///   - routes: Adds the methods.
    public init(
        configuration: Configuration,
        telemetry: Telemetry,
        readiness: Readiness = Readiness(),
        onListening: @escaping @Sendable (Int) async -> Void = { _ in },
        routes: (inout GRPCRoutes) -> Void
    ) {
        self.configuration = configuration
        self.readiness = readiness
        self.registration = readiness.register()
        var list = GRPCRoutes(telemetry: telemetry)
        routes(&list)
        let services = Set(list.methods.map(\.service.fullyQualifiedService))
        GRPCHealthService(readiness: readiness, services: services)
            .register(in: &list, tracing: configuration.traceHealthChecks)
        self.shared = GRPCServerStream.Shared(
            methods: list.methodsByPath,
            services: services.union([Grpc_Health_V1_Health.descriptor.fullyQualifiedService]),
            maxRequestMessageSize: configuration.maxRequestMessageSize
        )
        self.onListening = onListening
        self.logger = telemetry.makeLogger(label: "kite.grpc")
    }

    /// Serves until graceful shutdown. Throws at once when the port is outside 0…65535 or the
    /// host is not an IP address.
    public func run() async throws {
        guard (0...65535).contains(self.configuration.port) else {
            throw GRPCServerError.portOutOfRange(self.configuration.port)
        }
        let host = try Self.address(host: self.configuration.host)
        let registration = self.registration
        let timeout = self.configuration.shutdownTimeout
        defer { self.readiness.setListening(false, for: registration) }
        let shared = self.shared
        let finished = try await NIOServer(host: host, port: self.configuration.port).run(
            readiness: self.readiness,
            registration: registration,
            timeout: timeout,
            onListening: self.onListening,
            configure: { channel in try Self.configure(channel, shared: shared) }
        )
        if !finished {
            self.logger.warning("grpc: calls still in flight \(timeout) after graceful shutdown began were cancelled")
        }
    }

    /// Sets up a new connection: HTTP/2 (prior knowledge, as gRPC speaks it in cleartext), its
    /// calls served from the connection's frames (``GRPCConnectionHandler``, which also answers
    /// graceful shutdown with `GOAWAY`), flushes coalesced (``GRPCFlushCoalescer``).
    private static func configure(_ channel: any Channel, shared: GRPCServerStream.Shared) throws {
        let windowSize = 65535
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 100),
            HTTP2Setting(parameter: .maxHeaderListSize, value: HPACKDecoder.defaultMaxHeaderListSize),
            HTTP2Setting(parameter: .initialWindowSize, value: windowSize),
        ]
        let operations = channel.pipeline.syncOperations
        try operations.addHandler(GRPCFlushCoalescer())
        try operations.addHandler(NIOHTTP2Handler(mode: .server, connectionConfiguration: connection, streamConfiguration: .init()))
        try operations.addHandler(GRPCConnectionHandler(shared: shared, targetWindowSize: windowSize))
    }

    /// The address to bind: an IP literal, `localhost` as 127.0.0.1.
    static func address(host: String) throws -> String {
        switch host {
        case "localhost": return "127.0.0.1"
        case let host where host.contains(":"): return host
        case let host where host.split(separator: ".").count == 4 && host.allSatisfy({ $0.isNumber || $0 == "." }):
            return host
        default: throw GRPCServerError.hostNotAnAddress(host)
        }
    }
}

/// Why a ``GRPCEndpointServer`` could not start.
public enum GRPCServerError: Error, CustomStringConvertible {
    /// The configured port is not in 0…65535.
    case portOutOfRange(Int)
    /// The host is neither an IP address nor `localhost`.
    case hostNotAnAddress(String)

    public var description: String {
        switch self {
        case .portOutOfRange(let port): "port \(port) is not in 0…65535"
        case .hostNotAnAddress(let host): "host \(host) is not an IPv4 or IPv6 address (or localhost)"
        }
    }
}
