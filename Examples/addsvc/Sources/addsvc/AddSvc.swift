import AddService
import ArgumentParser
import Kite
import KiteGRPC
import KiteHTTP
import KiteNATS
import KiteThrift
import KiteTelemetry
import Logging
import ServiceLifecycle
import UnixSignals

/// Runs addsvc over HTTP and gRPC at once, and over NATS and Thrift too when asked:
/// `swift run addsvc [--host 127.0.0.1] [--http-port 8081] [--grpc-port 8082] [--nats nats://127.0.0.1:4222]
/// [--thrift-port 8083 [--thrift-protocol compact|binary] [--thrift-transport framed|buffered]]`.
///
/// HTTP: `POST /sum`, `POST /concat`, `GET /metrics`, `GET /livez`, `GET /readyz`. gRPC: go-kit's
/// `pb.Add`, Kite's streaming `kite.addsvc.AddStream`, and `grpc.health.v1.Health`. NATS: the
/// subjects `addsvc.sum` and `addsvc.concat` in the queue group `addsvc`, with the HTTP routes'
/// JSON bodies (not ready until the NATS server has confirmed the subscriptions). Thrift: go-kit's
/// `addsvc.thrift` (`AddService.Sum`, `AddService.Concat`, errors in the replies' `err`). Telemetry as
/// for stringsvc: logs and console spans on standard output unless the `OTEL_*` environment says
/// otherwise.
///
/// Resilience to watch: `--fail-rate F` fails that fraction of calls (503 / `UNAVAILABLE`),
/// `--latency D` adds `D` to every call, `--work D` spends `D` of CPU on every call, `--rate-limit N` refuses calls over N per second (429
/// with `Retry-After` / `RESOURCE_EXHAUSTED`); the load shedder is on unless `--no-shedding`.
///
/// Discovery: `--register etcd|zookeeper|consul --registry URL[,URL]` registers the HTTP and gRPC addresses
/// (`http://H:P`, `grpc://H:Q`; with Consul, two instances tagged `http` and `grpc`) under the
/// service name `addsvc` (`--service-name`) once both servers listen, keeps the registration alive
/// (`--registration-ttl`, default 10 s: a killed addsvc disappears within it), and deregisters first
/// on SIGTERM, before the servers drain. Register `--host` as callers reach it.
@main
struct AddSvc: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "addsvc", abstract: "go-kit's addsvc, on Kite, over HTTP and gRPC.")

    @Option(help: "The address to listen on (an IP address, or localhost).")
    var host = "127.0.0.1"

    @Option(name: .customLong("http-port"), help: "The HTTP port, 0…65535 (0: any free port).")
    var httpPort = 8081

    @Option(name: .customLong("grpc-port"), help: "The gRPC port, 0…65535 (0: any free port).")
    var grpcPort = 8082

    @Option(help: "Also answer on NATS: the server(s), nats://H:P[,nats://H:P…] (user:password@ or token@ before the host).")
    var nats: String?

    @Option(name: .customLong("thrift-port"), help: "Also serve go-kit's addsvc.thrift on this port, 0…65535 (0: any free port).")
    var thriftPort: Int?

    @Option(name: .customLong("thrift-protocol"), help: "The Thrift protocol: compact or binary.")
    var thriftProtocol: ThriftProtocol = .compact

    @Option(name: .customLong("thrift-transport"), help: "The Thrift transport: framed or buffered.")
    var thriftTransport: ThriftTransport = .framed

    @Flag(help: "Serve the endpoints without the one decorator (to measure what it costs); the transports' own spans and metrics stay.")
    var bare = false

    @Option(name: .customLong("fail-rate"), help: "The fraction of calls that fail with 503 / UNAVAILABLE, 0…1.")
    var failRate = 0.0

    @Option(help: "Added to every call: 200ms, 1.5s, 0.")
    var latency = DurationArgument(.zero)

    @Option(help: "CPU time every call spends (spinning), to make the service CPU-bound: 200us, 1ms, 0.")
    var work = DurationArgument(.zero)

    @Option(name: .customLong("rate-limit"), help: "Calls per second over which calls are refused with 429 / RESOURCE_EXHAUSTED.")
    var rateLimit: Double?

    @Flag(name: .customLong("no-shedding"), help: "Turn the adaptive load shedder off.")
    var noShedding = false

    @Option(name: .customLong("shedding-cpu-threshold"), help: "The CPU use (of the whole machine, 0…1) above which the load shedder may shed.")
    var sheddingCPUThreshold = 0.9

    @Option(name: .customLong("register"), help: "Register with a discovery backend: etcd, zookeeper or consul.")
    var register: RegistryKind?

    @Option(name: .customLong("registry"), help: "The backend's address: etcd http://H:P[,http://H:P…], ZooKeeper H:P[,H:P…], Consul http://H:P.")
    var registry: String?

    @Option(name: .customLong("service-name"), help: "The service name to register under.")
    var serviceName = "addsvc"

    @Option(name: .customLong("registration-ttl"), help: "The lease, check TTL or ZooKeeper session timeout of the registration: 10s, 3s (at least 2s).")
    var registrationTTL = DurationArgument(.seconds(10))

    func validate() throws {
        for (flag, port) in [("--http-port", self.httpPort), ("--grpc-port", self.grpcPort), ("--thrift-port", self.thriftPort ?? 0)] {
            guard (0...65535).contains(port) else {
                throw ValidationError("\(flag) must be in 0…65535 (0: any free port), not \(port)")
            }
        }
        guard (0...1).contains(self.failRate) else {
            throw ValidationError("--fail-rate must be in 0…1, not \(self.failRate)")
        }
        guard self.sheddingCPUThreshold > 0, self.sheddingCPUThreshold <= 1 else {
            throw ValidationError("--shedding-cpu-threshold must be in (0, 1], not \(self.sheddingCPUThreshold)")
        }
        if let rateLimit = self.rateLimit, !(rateLimit > 0 && rateLimit.isFinite) {
            throw ValidationError("--rate-limit must be a number of calls per second above 0, not \(rateLimit)")
        }
        if self.register != nil, (self.registry ?? "").isEmpty {
            throw ValidationError("--register needs --registry URL[,URL]")
        }
        if self.registrationTTL.duration < .seconds(2) {
            throw ValidationError("--registration-ttl must be at least 2s")
        }
    }

    func run() async throws {
        let environment = ProcessEnvironment.current
        let telemetry = Telemetry.bootstrap(serviceName: "addsvc", environment: environment) { configuration in
            if environment["OTEL_TRACES_EXPORTER"] == nil, case .none = configuration.tracesExporter {
                configuration.tracesExporter = .console
            }
            if environment["OTEL_EXPORTER_PROMETHEUS_PORT"] == nil { configuration.scrapeListener = nil }
        }
        let service = BasicAddService()
        let protection = AddServerProtection(
            shedder: self.noShedding
                ? nil : try LoadShedder("addsvc", cpuThreshold: self.sheddingCPUThreshold, telemetry: telemetry),
            rateLimiter: try self.rateLimit.map { try RateLimiter("addsvc", rate: $0, telemetry: telemetry) },
            faults: FaultInjection(failRate: self.failRate, latency: self.latency.duration, work: self.work.duration)
        )
        let endpoints =
            self.bare
            ? AddEndpoints(bare: service, protection: protection)
            : AddEndpoints(service: service, telemetry: telemetry, protection: protection)
        let streaming = AddStreamEndpoints(service: service, telemetry: telemetry)
        let readiness = Readiness()
        let logger = telemetry.logger
        let host = self.host
        let ports = ListeningPorts()
        let http = HTTPServer.addService(
            endpoints,
            configuration: .init(host: host, port: self.httpPort),
            telemetry: telemetry,
            readiness: readiness
        ) { port in
            ports.set("http", port)
            logger.info("addsvc listening", metadata: ["transport": "http", "host": "\(host)", "port": "\(port)"])
        }
        let grpc = GRPCEndpointServer.addService(
            endpoints,
            streaming: streaming,
            configuration: .init(host: host, port: self.grpcPort),
            telemetry: telemetry,
            readiness: readiness
        ) { port in
            ports.set("grpc", port)
            logger.info("addsvc listening", metadata: ["transport": "grpc", "host": "\(host)", "port": "\(port)"])
        }
        let natsServices: [any Service] = try self.nats.map { servers in
            let client = try NATSClient(
                configuration: .init(servers: servers.split(separator: ",").map(String.init), name: "addsvc"),
                telemetry: telemetry
            )
            // The client first: the group stops the server (which drains) before the client.
            return [client, NATSEndpointServer.addService(endpoints, client: client, telemetry: telemetry, readiness: readiness)]
        } ?? []
        let thrift: [any Service] = self.thriftPort.map { port in
            [
                ThriftEndpointServer.addService(
                    endpoints,
                    configuration: .init(
                        host: host,
                        port: port,
                        serviceName: "AddService",
                        protocol: self.thriftProtocol,
                        transport: self.thriftTransport
                    ),
                    telemetry: telemetry,
                    readiness: readiness
                ) { port in
                    ports.set("thrift", port)
                    logger.info("addsvc listening", metadata: ["transport": "thrift", "host": "\(host)", "port": "\(port)"])
                }
            ]
        } ?? []
        let registrations = try self.register.map { kind in
            try AddSvcRegistration(
                kind: kind,
                registry: (self.registry ?? "").split(separator: ",").map(String.init),
                serviceName: self.serviceName,
                host: host,
                ttl: self.registrationTTL.duration
            ).services(ports: ports, readiness: readiness, telemetry: telemetry)
        } ?? []
        let group = ServiceGroup(
            configuration: .init(
                // Shut down last to first: the registrations go first, then the servers drain.
                services: [.init(service: telemetry), .init(service: http), .init(service: grpc)]
                    + natsServices.map { .init(service: $0) }
                    + thrift.map { .init(service: $0) }
                    + registrations.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: telemetry.makeLogger(label: "kite.lifecycle")
            )
        )
        try await group.run()
    }
}

extension ThriftProtocol: ExpressibleByArgument {}
extension ThriftTransport: ExpressibleByArgument {}
