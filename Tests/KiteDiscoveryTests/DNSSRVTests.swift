import Kite
import KiteDNSSRV
import KiteTelemetry
import KiteTestSupport
import Testing

@Suite("DNS SRV discovery against a real dnsmasq", .serialized, .enabled(if: Peers.isAvailable("dnsmasq")), .timeLimit(.minutes(2)))
struct DNSSRVTests {
    static func record(_ name: String, _ target: String, _ port: Int, priority: Int = 0, weight: Int = 10) -> String {
        "srv-host=\(name),\(target),\(port),\(priority),\(weight)"
    }

    @Test("the SRV answer's instances arrive preferred first; a restarted dnsmasq's new records are picked up on the next poll")
    func instancesAndRestart() async throws {
        let name = "_sum._tcp.example.test"
        let dnsmasq = try await DnsmasqServer([
            Self.record(name, "127.0.0.1", 8081, weight: 10),
            Self.record(name, "127.0.0.1", 8083, priority: 1, weight: 50),
            Self.record(name, "127.0.0.1", 8082, weight: 20),
        ])
        let pipeline = Pipeline()
        let instancer = try DNSSRVInstancer(
            service: "sum",
            name: name,
            resolver: SRVResolver(server: dnsmasq.address),
            minimumInterval: .milliseconds(100),
            telemetry: pipeline.telemetry
        )
        let polling = Task { try await instancer.run() }
        defer { polling.cancel() }
        let first = try await firstEvent(of: instancer, "the SRV records") { !$0.instances.isEmpty }
        #expect(first.instances == ["127.0.0.1:8082", "127.0.0.1:8081", "127.0.0.1:8083"])

        try await dnsmasq.stop()
        try await dnsmasq.start([Self.record(name, "127.0.0.1", 8084), Self.record(name, "127.0.0.1", 8082)])
        let changed = try await firstEvent(of: instancer, "the new records") { $0.instances.contains("127.0.0.1:8084") }
        #expect(changed.instances == ["127.0.0.1:8082", "127.0.0.1:8084"])
        #expect(pipeline.sample(#"kite_discovery_instances{service="sum"}"#) == 2)

        // Restarted without the name: dnsmasq refuses it; the last set is kept with the error.
        try await dnsmasq.stop()
        try await dnsmasq.start([Self.record("_other._tcp.example.test", "127.0.0.1", 9000)])
        let refused = try await firstEvent(of: instancer, "the refusal") { $0.error != nil }
        #expect(refused.instances == ["127.0.0.1:8082", "127.0.0.1:8084"])
        #expect("\(refused.error.map { "\($0)" } ?? "")".contains("refused"))
        #expect((pipeline.sample(#"kite_discovery_errors_total{service="sum"}"#) ?? 0) >= 1)
    }

    @Test("a truncated UDP answer falls back to TCP and every record arrives")
    func truncatedFallsBackToTCP() async throws {
        let name = "_big._tcp.example.test"
        let lines = (1...40).map { Self.record(name, "host-number-\($0)-with-a-rather-long-name.example.test", 9000 + $0) }
        let dnsmasq = try await DnsmasqServer(lines)
        let resolver = try SRVResolver(server: dnsmasq.address)
        let lookup = try await resolver.lookup(name)
        #expect(lookup.overTCP)
        #expect(lookup.records.count == 40)
        #expect(Set(lookup.records.map(\.port)) == Set((1...40).map { UInt16(9000 + $0) }))

        let pipeline = Pipeline()
        let instancer = try DNSSRVInstancer(service: "big", name: name, resolver: resolver, telemetry: pipeline.telemetry)
        let polling = Task { try await instancer.run() }
        defer { polling.cancel() }
        let event = try await firstEvent(of: instancer, "the 40 records") { !$0.instances.isEmpty }
        #expect(event.instances.count == 40)
        #expect(pipeline.sample(#"kite_discovery_dns_tcp_fallbacks_total{service="big"}"#) == 1)
    }

    @Test("a server that does not answer is a timeout after the attempts, not a hang")
    func silentServer() async throws {
        // A UDP port nobody reads: a socket bound and never read stays silent.
        let resolver = try SRVResolver(server: "127.0.0.1:\(try freePort())", timeout: .milliseconds(200), attempts: 2)
        let start = ContinuousClock.now
        await #expect(throws: DNSError.self) { try await resolver.lookup("_x._tcp.example.test") }
        // Two attempts of 200 ms: far less than this even on a loaded machine; a hang would not end.
        #expect(start.duration(to: .now) < .seconds(20))
        #expect(throws: DNSError.self) { try SRVResolver(server: "not-an-address:53") }
    }
}
