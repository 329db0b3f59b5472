import Kite
import KiteTelemetry
import Logging
import NIOCore
import ServiceLifecycle

/// A Thrift server for Kite endpoints, on SwiftNIO — go-kit's Thrift transport, in the binary or
/// compact protocol over a framed or buffered transport.
///
/// ```swift
/// let server = ThriftEndpointServer(configuration: .init(port: 8083, serviceName: "AddService"), telemetry: telemetry) { routes in
///     routes.method("Sum", sumEndpoint)
/// }
/// try await ServiceGroup(services: [telemetry, server], logger: telemetry.logger).run()
/// ```
///
/// Requests and responses are plain `Codable` Swift structs whose coding keys carry the Thrift
/// field ids (``ThriftSerializer``). Every call runs in a server span continuing the caller's
/// trace when the caller is Kite's (``ThriftServerInstrumentation``). Limits on message size,
/// container sizes and nesting hold for everything read (``ThriftLimits``).
///
/// On graceful shutdown it turns not ready, stops accepting connections, lets each connection's
/// calls in flight answer, then closes it; at ``Configuration/shutdownTimeout`` it closes what is
/// left.
public struct ThriftEndpointServer: Service {
    /// Where and how to serve.
    public struct Configuration: Sendable {
        /// The address to bind: an IPv4 or IPv6 literal, or `localhost`. Default `0.0.0.0`.
        public var host: String
        /// The port, 0…65535; `0` lets the system choose. Default `8083`.
        public var port: Int
        /// The service's name, for spans and metrics (`AddService`).
        public var serviceName: String
        /// The protocol. Default compact.
        public var `protocol`: ThriftProtocol
        /// The transport. Default framed.
        public var transport: ThriftTransport
        /// What is accepted from the wire.
        public var limits: ThriftLimits
        /// How long calls in flight may take once graceful shutdown starts. Default 10 s.
        public var shutdownTimeout: Duration

        public init(
            host: String = "0.0.0.0",
            port: Int = 8083,
            serviceName: String,
            protocol: ThriftProtocol = .compact,
            transport: ThriftTransport = .framed,
            limits: ThriftLimits = ThriftLimits(),
            shutdownTimeout: Duration = .seconds(10)
        ) {
            self.host = host
            self.port = port
            self.serviceName = serviceName
            self.protocol = `protocol`
            self.transport = transport
            self.limits = limits
            self.shutdownTimeout = shutdownTimeout
        }
    }

    /// The configuration.
    public let configuration: Configuration
    /// The readiness the server reports to, shared with the other servers of the service.
    public let readiness: Readiness
    private let registration: Readiness.Registration
    private let shared: ThriftConnectionHandler.Shared
    private let onListening: @Sendable (Int) async -> Void
    private let logger: Logger

    /// Creates a server.
    /// - Parameters:
    ///   - configuration: Address, port, protocol, transport, limits.
    ///   - telemetry: The pipeline calls are recorded in.
    ///   - readiness: The readiness shared by the servers of the service; a new one by default.
    ///   - onListening: Called with the bound port once the server accepts connections.
    ///   - routes: Adds the methods.
    public init(
        configuration: Configuration,
        telemetry: Telemetry,
        readiness: Readiness = Readiness(),
        onListening: @escaping @Sendable (Int) async -> Void = { _ in },
        routes: (inout ThriftRoutes) -> Void
    ) {
        self.configuration = configuration
        self.readiness = readiness
        self.registration = readiness.register()
        var list = ThriftRoutes(
            instrumentation: ThriftServerInstrumentation(telemetry: telemetry, service: configuration.serviceName),
            protocol: configuration.protocol
        )
        routes(&list)
        self.logger = telemetry.makeLogger(label: "kite.thrift")
        self.shared = ThriftConnectionHandler.Shared(
            routes: list.routes,
            protocol: configuration.protocol,
            transport: configuration.transport,
            limits: configuration.limits,
            logger: self.logger
        )
        self.onListening = onListening
    }

    /// Serves until graceful shutdown.
    /// - Throws: When the port is outside 0…65535, or binding fails.
    public func run() async throws {
        guard (0...65535).contains(self.configuration.port) else {
            throw ThriftProtocolError("port \(self.configuration.port) is not in 0…65535")
        }
        let host = self.configuration.host == "localhost" ? "127.0.0.1" : self.configuration.host
        let registration = self.registration
        let timeout = self.configuration.shutdownTimeout
        defer { self.readiness.setListening(false, for: registration) }
        let shared = self.shared
        let finished = try await NIOServer(host: host, port: self.configuration.port).run(
            readiness: self.readiness,
            registration: registration,
            timeout: timeout,
            onListening: self.onListening,
            configure: { channel in
                let operations = channel.pipeline.syncOperations
                try operations.addHandler(
                    ByteToMessageHandler(
                        ThriftFrameDecoder(transport: shared.transport, protocol: shared.protocol, limits: shared.limits),
                        maximumBufferSize: shared.limits.maxMessageSize + 4
                    )
                )
                try operations.addHandler(ThriftConnectionHandler(shared: shared))
            }
        )
        if !finished {
            self.logger.warning("thrift: calls still in flight \(timeout) after graceful shutdown began were cancelled")
        }
    }
}
