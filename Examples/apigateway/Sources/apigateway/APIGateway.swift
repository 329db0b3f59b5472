import AddService
import ArgumentParser
import Kite
import KiteConsul
import KiteDNSSRV
import KiteEtcd
import KiteGRPC
import KiteHTTP
import KiteTelemetry
import KiteZooKeeper
import Logging
import ServiceLifecycle
import UnixSignals

/// go-kit's apigateway on Kite: discovers addsvc instances, spreads calls over them and serves the
/// combined API over HTTP, fully instrumented.
///
/// `apigateway --host H --http-port P --discovery etcd|zookeeper|consul|dns --registry URL[,URL]`
/// (for `dns`: `--dns-name _addsvc._tcp.example.test --dns-server H:P`) serves `POST /addsvc/sum`
/// and `POST /addsvc/concat` with addsvc's bodies, forwarding over HTTP (`--upstream grpc` for gRPC),
/// and `GET /metrics` with the discovery and balancer metrics (`kite_discovery_instances{service}`
/// among them).
///
/// Each call goes to the instance power-of-two-choices picks (`--balancer` for another), and a
/// failure is tried again on another instance, up to `--attempts` attempts within `--timeout`
/// seconds and a 20 % retry budget. An instance registered as a URL (`http://H:P`, `grpc://H:Q`,
/// as addsvc registers with etcd and ZooKeeper) is used only by the upstream of its scheme; a bare `H:P` (DNS SRV,
/// or Consul instances filtered by the tag `http` or `grpc`) by either.
@main
struct APIGateway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "apigateway", abstract: "Discovers addsvc and serves its API over HTTP.")

    enum Discovery: String, ExpressibleByArgument, CaseIterable {
        case etcd, zookeeper, consul, dns
    }

    enum Upstream: String, ExpressibleByArgument, CaseIterable {
        case http, grpc
    }

    enum Balancer: String, ExpressibleByArgument, CaseIterable {
        case p2c, roundRobin = "round-robin", random
    }

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(name: .customLong("http-port"), help: "The HTTP port, 0…65535 (0: any free port).")
    var httpPort = 8000

    @Option(help: "Where addsvc instances are found: etcd, zookeeper, consul or dns.")
    var discovery: Discovery

    @Option(help: "The backend's address: etcd http://H:P[,…], ZooKeeper H:P[,…], Consul http://H:P.")
    var registry: String?

    @Option(name: .customLong("dns-name"), help: "The SRV name to look up with --discovery dns.")
    var dnsName = "_addsvc._tcp.example.test"

    @Option(name: .customLong("dns-server"), help: "The DNS server H:P (default: /etc/resolv.conf's).")
    var dnsServer: String?

    @Option(help: "How calls reach addsvc: http or grpc.")
    var upstream: Upstream = .http

    @Option(name: .customLong("service-name"), help: "The service name addsvc registered under.")
    var serviceName = "addsvc"

    @Option(help: "The load balancer: p2c, round-robin or random.")
    var balancer: Balancer = .p2c

    @Option(help: "Attempts per call, on different instances when there are (1: no retry).")
    var attempts = 3

    @Option(help: "Seconds all attempts of a call may take.")
    var timeout = 5.0

    func validate() throws {
        guard (0...65535).contains(self.httpPort) else { throw ValidationError("--http-port must be in 0…65535") }
        guard self.attempts >= 1 else { throw ValidationError("--attempts must be at least 1") }
        guard self.timeout > 0, self.timeout.isFinite else { throw ValidationError("--timeout must be a number of seconds above 0") }
        switch self.discovery {
        case .etcd, .consul, .zookeeper:
            if (self.registry ?? "").isEmpty { throw ValidationError("--discovery \(self.discovery.rawValue) needs --registry URL") }
        case .dns:
            break
        }
    }

    func run() async throws {
        let telemetry = Telemetry.bootstrap(serviceName: "apigateway", environment: ProcessEnvironment.current) { configuration in
            if ProcessEnvironment.current["OTEL_EXPORTER_PROMETHEUS_PORT"] == nil { configuration.scrapeListener = nil }
        }
        let (instancer, discoveryServices) = try self.makeInstancer(telemetry: telemetry)
        var services: [any Service] = [telemetry] + discoveryServices
        let upstream = try GatewayUpstream(kind: self.upstream, instancer: instancer, telemetry: telemetry)
        services += upstream.services

        let retry = BalancerRetry(
            maxAttempts: self.attempts,
            timeout: .milliseconds(Int64(self.timeout * 1000)),
            budget: try RetryBudget(ratio: 0.2, maxTokens: 20)
        )
        let sum = self.balanced(upstream.sum, retry: retry).instrumented("gateway.sum", telemetry)
        let concat = self.balanced(upstream.concat, retry: retry).instrumented("gateway.concat", telemetry)
        let logger = telemetry.logger
        let host = self.host
        let server = HTTPServer(
            configuration: .init(host: host, port: self.httpPort),
            telemetry: telemetry,
            readiness: Readiness(),
            onListening: { port in
                logger.info("apigateway listening", metadata: ["host": "\(host)", "port": "\(port)"])
            }
        ) { routes in
            routes.post("/addsvc/sum", sum)
            routes.post("/addsvc/concat", concat)
            routes.metrics("/metrics")
        }
        services.append(server)
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: telemetry.makeLogger(label: "kite.lifecycle")
            )
        )
        try await group.run()
    }

    private func balanced<Request: Sendable, Response: Sendable>(
        _ endpointer: Endpointer<Request, Response>,
        retry: BalancerRetry
    ) -> Endpoint<Request, Response> {
        switch self.balancer {
        case .p2c: endpointer.balanced(by: .powerOfTwoChoices(), retry: retry)
        case .roundRobin: endpointer.balanced(by: .roundRobin, retry: retry)
        case .random: endpointer.balanced(by: .random(), retry: retry)
        }
    }

    /// The instancer, and what must run for it (the instancer; ZooKeeper's client first).
    private func makeInstancer(telemetry: Telemetry) throws -> (any Instancer, [any Service]) {
        let registry = (self.registry ?? "").split(separator: ",").map(String.init)
        switch self.discovery {
        case .etcd:
            let instancer = EtcdInstancer(service: self.serviceName, client: try EtcdClient(endpoints: registry), telemetry: telemetry)
            return (instancer, [instancer])
        case .consul:
            guard let agent = registry.first else { throw ValidationError("--registry needs the Consul agent's URL") }
            let instancer = ConsulInstancer(
                service: self.serviceName,
                tags: [self.upstream.rawValue],
                client: try ConsulClient(agent: agent),
                telemetry: telemetry
            )
            return (instancer, [instancer])
        case .dns:
            let instancer = try DNSSRVInstancer(
                service: self.serviceName,
                name: self.dnsName,
                resolver: try SRVResolver(server: self.dnsServer),
                telemetry: telemetry
            )
            return (instancer, [instancer])
        case .zookeeper:
            let client = try ZooKeeperClient(servers: registry.joined(separator: ","), telemetry: telemetry)
            let instancer = ZooKeeperInstancer(service: self.serviceName, client: client, telemetry: telemetry)
            return (instancer, [client, instancer])
        }
    }
}
