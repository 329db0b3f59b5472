import Foundation
import KiteTestSupport
import Synchronization
import Testing

/// The apigateway binary, on a port the system picks (read from its log line).
final class APIGatewayProcess: @unchecked Sendable {
    // @unchecked: the port is set in init; the process is stopped once, in deinit.
    private let process = Process()
    private let output = Pipe()
    let lines = OutputLines()
    private(set) var port = 0

    var url: String { "http://127.0.0.1:\(self.port)" }

    init(_ arguments: [String]) async throws {
        self.process.executableURL = URL(fileURLWithPath: try exampleBinary("apigateway"))
        self.process.arguments = ["--host", "127.0.0.1", "--http-port", "0"] + arguments
        self.process.environment = ProcessInfo.processInfo.environment.merging(["OTEL_TRACES_EXPORTER": "none"]) { $1 }
        self.process.standardOutput = self.output
        self.process.standardError = self.output
        self.lines.collect(from: self.output)
        try self.process.run()
        let lines = self.lines
        let process = self.process
        var port = 0
        try await waitUntil("apigateway to log its port") {
            guard process.isRunning else { throw AddServiceExited(output: lines.all) }
            guard let line = lines.all.first(where: { $0.contains(#"msg="apigateway listening""#) }) else { return false }
            port = Int(line.split(separator: " ").first { $0.hasPrefix("port=") }?.dropFirst(5) ?? "") ?? 0
            return port > 0
        }
        self.port = port
    }

    /// The value of the gateway's `kite_discovery_instances{service="addsvc"}`.
    func instances() async throws -> Int? {
        let text = try await httpRequest("\(self.url)/metrics").text
        let series = #"kite_discovery_instances{service="addsvc"} "#
        return text.split(separator: "\n").first { $0.hasPrefix(series) }.flatMap { Int($0.dropFirst(series.count)) }
    }

    /// `POST /addsvc/sum` of `a` and `b`: the sum, or `nil` when the call did not answer it.
    func sum(_ a: Int, _ b: Int) async -> Int? {
        struct Answer: Decodable { var v: Int }
        guard let result = try? await httpRequest(
            "\(self.url)/addsvc/sum",
            method: "POST",
            body: Data(#"{"a":\#(a),"b":\#(b)}"#.utf8)
        ), result.status == 200 else { return nil }
        return try? JSONDecoder().decode(Answer.self, from: result.body).v
    }

    deinit {
        self.output.fileHandleForReading.readabilityHandler = nil
        ChildStopper.stop(self.process, signal: SIGKILL, grace: .zero)
    }
}

@Suite("apigateway in front of addsvc processes, through real discovery", .serialized, .timeLimit(.minutes(3)))
struct APIGatewayEndToEndTests {
    @Test(
        "etcd: three addsvc behind the gateway under load; one is killed mid-run; no request fails and it leaves the instance gauge",
        .enabled(if: Peers.isAvailable("etcd"))
    )
    func etcdFailover() async throws {
        let etcd = try await EtcdServer()
        let register = ["--register", "etcd", "--registry", etcd.url, "--registration-ttl", "2s"]
        let quiet = ["OTEL_TRACES_EXPORTER": "none"]
        var addsvcs: [AddServiceProcess] = []
        for _ in 0..<3 { addsvcs.append(try await AddServiceProcess(environment: quiet, arguments: register)) }
        let gateway = try await APIGatewayProcess(["--discovery", "etcd", "--registry", etcd.url])
        try await waitUntil("the gateway to see three addsvc (HTTP and gRPC each)") { try await gateway.instances() == 6 }

        let tally = LoadTally()
        let killedAt = Moment()
        let noticedAt = Moment()
        let victim = addsvcs[1]
        try await withThrowingTaskGroup(of: Void.self) { group in
            // Four callers: load enough for a crash to hit calls in flight, without starving the
            // tests that run beside this one on a small machine.
            for worker in 0..<4 {
                group.addTask {
                    var call = 0
                    // Until a second after the gateway noticed the crash.
                    while noticedAt.value.map({ $0.duration(to: .now) < .seconds(1) }) ?? true {
                        call += 1
                        let (a, b) = (worker * 100_000 + call, call)
                        tally.record(await gateway.sum(a, b) == a + b)
                    }
                }
            }
            group.addTask {
                try await waitUntil("some load before the crash") { tally.total >= 100 }
                killedAt.set()
                try await victim.crash()
                try await waitUntil("the gateway to drop the dead instance") { try await gateway.instances() == 4 }
                noticedAt.set()
            }
            try await group.waitForAll()
        }
        let noticed = try #require(killedAt.value.flatMap { killed in noticedAt.value.map { killed.duration(to: $0) } })
        print("apigateway end to end (etcd): \(tally.total) requests, \(tally.failures) failed; the dead instance left discovery after \(noticed)")
        #expect(tally.failures == 0)
        #expect(tally.total > 100)
        // The lease's TTL is 2 s; etcd expires leases on its own clock, within about a second more.
        #expect(noticed < .seconds(6))
    }

    @Test("Consul (the API fake): addsvc registers its HTTP and gRPC addresses; the gateway calls over either", .enabled(if: Peers.isAvailable("python3")))
    func consul() async throws {
        let consul = try await ConsulFake()
        let register = ["--register", "consul", "--registry", consul.url, "--registration-ttl", "2s"]
        let addsvc = try await AddServiceProcess(environment: ["OTEL_TRACES_EXPORTER": "none"], arguments: register)
        for upstream in ["http", "grpc"] {
            let gateway = try await APIGatewayProcess(["--discovery", "consul", "--registry", consul.url, "--upstream", upstream])
            try await waitUntil("the gateway to find addsvc in Consul (\(upstream))") { try await gateway.instances() == 1 }
            #expect(await gateway.sum(20, 22) == 42)
        }
        #expect(try await addsvc.terminate() == 0)
    }

    @Test("ZooKeeper: addsvc registers ephemeral nodes; the gateway calls over either transport; SIGTERM deregisters", .enabled(if: Peers.isAvailable("java")))
    func zookeeper() async throws {
        let zookeeper = try await ZooKeeperServer()
        let register = ["--register", "zookeeper", "--registry", zookeeper.address, "--registration-ttl", "4s"]
        let addsvc = try await AddServiceProcess(environment: ["OTEL_TRACES_EXPORTER": "none"], arguments: register)
        var gateways: [APIGatewayProcess] = []
        for upstream in ["http", "grpc"] {
            let gateway = try await APIGatewayProcess(["--discovery", "zookeeper", "--registry", zookeeper.address, "--upstream", upstream])
            try await waitUntil("the gateway to find addsvc in ZooKeeper (\(upstream))") { try await gateway.instances() == 2 }
            #expect(await gateway.sum(40, 2) == 42)
            gateways.append(gateway)
        }
        #expect(try await addsvc.terminate() == 0)
        let gateway = gateways[0]
        try await waitUntil("the deregistered nodes to leave the gateway's view") { try await gateway.instances() == 0 }
    }

    @Test("DNS SRV (dnsmasq): the gateway calls the instances the SRV records name", .enabled(if: Peers.isAvailable("dnsmasq")))
    func dns() async throws {
        let addsvc = try await AddServiceProcess(environment: ["OTEL_TRACES_EXPORTER": "none"])
        let name = "_addsvc._tcp.example.test"
        let dnsmasq = try await DnsmasqServer(["srv-host=\(name),127.0.0.1,\(addsvc.httpPort),0,10"])
        let gateway = try await APIGatewayProcess(["--discovery", "dns", "--dns-name", name, "--dns-server", dnsmasq.address])
        try await waitUntil("the gateway to resolve the SRV record") { try await gateway.instances() == 1 }
        #expect(await gateway.sum(1, 2) == 3)
    }
}

/// Requests answered right and wrong, from concurrent workers.
final class LoadTally: Sendable {
    private let counts = Mutex((total: 0, failures: 0))

    func record(_ answered: Bool) {
        self.counts.withLock {
            $0.total += 1
            if !answered { $0.failures += 1 }
        }
    }

    var total: Int { self.counts.withLock { $0.total } }
    var failures: Int { self.counts.withLock { $0.failures } }
}

/// A moment that one task sets and others read.
final class Moment: Sendable {
    private let instant = Mutex<ContinuousClock.Instant?>(nil)

    func set() { self.instant.withLock { $0 = .now } }
    var value: ContinuousClock.Instant? { self.instant.withLock { $0 } }
}
