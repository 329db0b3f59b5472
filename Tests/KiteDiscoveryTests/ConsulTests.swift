import Kite
@testable import KiteConsul
import KiteTelemetry
import KiteTestSupport
import Testing

/// Against the conformance fake of Consul's HTTP API (`Tests/Peers/consul_fake.py`): no Consul
/// server installs on this machine kind.
@Suite("Consul discovery against the Consul API fake", .serialized, .enabled(if: Peers.isAvailable("python3")), .timeLimit(.minutes(2)))
struct ConsulTests {
    @Test("a blocking query returns only on a change or when its wait ends")
    func blockingQueries() async throws {
        let consul = try await ConsulFake()
        let client = try ConsulClient(agent: consul.url)
        let (empty, index) = try await client.healthyInstances(of: "sum")
        #expect(empty.isEmpty)

        let start = ContinuousClock.now
        let (unchanged, same) = try await client.healthyInstances(of: "sum", index: index, wait: .seconds(1))
        #expect(start.duration(to: .now) >= .milliseconds(900))
        #expect(unchanged.isEmpty)
        #expect(same == index)

        let waiting = Task { try await client.healthyInstances(of: "sum", index: index, wait: .seconds(30)) }
        let registrar = ConsulRegistrar(service: "sum", address: "127.0.0.1", port: 8081, tags: ["v1"], client: client)
        try await registrar.register()
        let (changed, next) = try await waiting.value
        #expect(next > index)
        // The blocking query may have answered at the registration, before the check passed.
        let (now, _) = try await client.healthyInstances(of: "sum")
        #expect(now.map(\.address) == ["127.0.0.1:8081"])
        #expect(changed.allSatisfy { $0.address == "127.0.0.1:8081" })
        #expect(try await client.healthyInstances(of: "sum", tags: ["v1"]).instances.count == 1)
        #expect(try await client.healthyInstances(of: "sum", tags: ["v2"]).instances.isEmpty)
    }

    @Test("an instance whose TTL check lapses is left out; a deregistered one is gone; registration follows the lifecycle")
    func healthAndRegistration() async throws {
        let consul = try await ConsulFake()
        let pipeline = Pipeline()
        let client = try ConsulClient(agent: consul.url)
        let instancer = ConsulInstancer(service: "addsvc", client: client, telemetry: pipeline.telemetry)
        let watching = Task { try await instancer.run() }
        defer { watching.cancel() }

        let kept = RegistrationService(
            // A TTL far longer than the test: only deregistration can take this one out of the
            // set (and it stays passing however a loaded machine delays its passes).
            ConsulRegistrar(service: "addsvc", address: "127.0.0.1", port: 9001, client: client, ttl: .seconds(120)),
            telemetry: pipeline.telemetry
        )
        let running = Task { try await kept.run() }
        // Registered once and never heartbeating: a crashed instance.
        // A TTL long enough for both to be seen together on a loaded machine.
        let crashed = ConsulRegistrar(service: "addsvc", address: "127.0.0.1", port: 9002, client: client, ttl: .seconds(3))
        try await crashed.register()
        _ = try await firstEvent(of: instancer, "both instances") { $0.instances == ["127.0.0.1:9001", "127.0.0.1:9002"] }
        let lapsed = try await firstEvent(of: instancer, "the lapsed check to leave the set") { $0.instances.count == 1 }
        #expect(lapsed.instances == ["127.0.0.1:9001"])

        // Cancelling the service's task (no graceful shutdown) still deregisters it.
        running.cancel()
        _ = try? await running.value
        _ = try await firstEvent(of: instancer, within: .seconds(5), "the deregistered instance to go") { $0.instances.isEmpty }
        #expect(pipeline.sample(#"kite_discovery_registration_errors_total{service="addsvc",instance="127.0.0.1:9001"}"#) == 0, "the deregistration was not cancelled")
        #expect(pipeline.sample(#"kite_discovery_instances{service="addsvc"}"#) == 0)
    }

    @Test("an agent that lost its state: the registration is made again, the instancer resets its index and recovers")
    func agentRestart() async throws {
        let consul = try await ConsulFake()
        let pipeline = Pipeline()
        let client = try ConsulClient(agent: consul.url)
        let instancer = ConsulInstancer(service: "svc", client: client, wait: .seconds(1), telemetry: pipeline.telemetry)
        let watching = Task { try await instancer.run() }
        defer { watching.cancel() }
        let registration = RegistrationService(
            ConsulRegistrar(service: "svc", address: "127.0.0.1", port: 7000, client: client, ttl: .seconds(1)),
            telemetry: pipeline.telemetry
        )
        let running = Task { try await registration.run() }
        defer { running.cancel() }
        _ = try await firstEvent(of: instancer, "the registration") { $0.instances == ["127.0.0.1:7000"] }

        try await consul.restart()
        try await waitUntil("the registration to be made again") {
            pipeline.sample(#"kite_discovery_registrations_total{service="svc",instance="127.0.0.1:7000"}"#) == 2
        }
        _ = try await firstEvent(of: instancer, "the instance back after the agent's restart") {
            $0.error == nil && $0.instances == ["127.0.0.1:7000"]
        }
        #expect(pipeline.sample(#"kite_discovery_registrations_lost_total{service="svc",instance="127.0.0.1:7000"}"#) == 1)

        // An index that went backwards: the instancer starts over and still sees changes.
        try await consul.resetIndex()
        try await ConsulRegistrar(service: "svc", address: "127.0.0.1", port: 7001, client: client, ttl: .seconds(30)).register()
        _ = try await firstEvent(of: instancer, "a change after the index reset") { $0.instances == ["127.0.0.1:7000", "127.0.0.1:7001"] }
    }

    @Test("health answers, random and mutated: values or clear errors")
    func fuzz() async {
        let valid = Array(#"[{"Node":{"Node":"n","Address":"10.0.0.1"},"Service":{"ID":"a","Service":"s","Tags":["v1"],"Address":"","Port":8080},"Checks":[]}]"#.utf8)
        #expect((try? ConsulClient.instances(in: .init(valid)))?.map(\.address) == ["10.0.0.1:8080"])
        var bytes = DecoderFuzzTests.Bytes(state: 8500)
        var errors = 0
        for round in 0..<20_000 {
            await shareThreads(round: round)
            let input = round % 5 == 4 ? bytes.random(count: Int.random(in: 0..<200, using: &bytes)) : bytes.mutate(valid)
            do {
                _ = try ConsulClient.instances(in: .init(input))
            } catch is ConsulError {
                errors += 1
            } catch {
                Issue.record("not a ConsulError: \(error)")
            }
        }
        #expect(errors > 1000)
    }
}
