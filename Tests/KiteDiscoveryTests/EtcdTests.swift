import Foundation
import Kite
@testable import KiteEtcd
import KiteTelemetry
import KiteTestSupport
import ServiceLifecycle
import Testing

@Suite("etcd discovery against a real etcd", .serialized, .enabled(if: Peers.isAvailable("etcd")), .timeLimit(.minutes(3)))
struct EtcdTests {
    @Test("three registrars are seen; one that stops renewing its lease is gone when it expires; one deregistered is gone at once")
    func registrationAndExpiry() async throws {
        let etcd = try await EtcdServer()
        let pipeline = Pipeline()
        let client = try EtcdClient(endpoints: [etcd.url])
        let instancer = EtcdInstancer(service: "addsvc", client: client, telemetry: pipeline.telemetry)
        let watching = Task { try await instancer.run() }
        defer { watching.cancel() }

        let kept = ["127.0.0.1:8001", "127.0.0.1:8002"].map {
            // A 4 s lease renewed every 1.3 s: a loaded machine that stalls a renewal for a second
            // or two does not let a kept instance expire.
            RegistrationService(EtcdRegistrar(service: "addsvc", instance: $0, client: client, ttl: .seconds(4)), telemetry: pipeline.telemetry)
        }
        let running = kept.map { service in Task { try await service.run() } }
        // The kept two are seen first: on a machine loaded by the rest of the suite their first
        // registrations took seconds once, and the crashed instance's lease, taken before them,
        // ran out before the three were ever registered together.
        _ = try await firstEvent(of: instancer, "the two kept instances") { $0.instances == ["127.0.0.1:8001", "127.0.0.1:8002"] }
        // The third registers once and never renews: a crashed instance. Its lease outlives the
        // others' next renewals, so that the three are seen together even on a loaded machine (the
        // instancer reports the latest state, not every step).
        let crashed = EtcdRegistrar(service: "addsvc", instance: "127.0.0.1:8003", client: client, ttl: .seconds(8))
        try await crashed.register()

        let all = ["127.0.0.1:8001", "127.0.0.1:8002", "127.0.0.1:8003"]
        _ = try await firstEvent(of: instancer, "the three instances") { $0.instances == all }
        // (A kept instance whose renewal a loaded machine stalled past its lease is registered
        // again by its service: the set this waits for is the two kept ones, however it gets there.)
        let expired = try await firstEvent(of: instancer, "the crashed instance's lease to expire") {
            $0.instances == ["127.0.0.1:8001", "127.0.0.1:8002"]
        }
        #expect(!expired.instances.contains("127.0.0.1:8003"))
        // The gauge is set before each event is published; on a loaded machine a kept instance's
        // stalled renewal can change the set again right after this one, so the gauge is waited for.
        try await waitUntil("kite_discovery_instances to read the two kept instances") {
            pipeline.sample(#"kite_discovery_instances{service="addsvc"}"#) == 2
        }

        running[0].cancel()
        _ = try? await running[0].value
        let left = try await firstEvent(of: instancer, within: .seconds(5), "the deregistered instance to go") { $0.instances.count == 1 }
        #expect(left.instances == ["127.0.0.1:8002"])
        #expect(pipeline.sample(#"kite_discovery_registered{service="addsvc",instance="127.0.0.1:8001"}"#) == 0)
        #expect(pipeline.sample(#"kite_discovery_registered{service="addsvc",instance="127.0.0.1:8002"}"#) == 1)
        running[1].cancel()
        _ = try? await running[1].value
    }

    @Test("etcd restarted mid-watch: the last known set is kept with the error, then resynced")
    func restart() async throws {
        let etcd = try await EtcdServer()
        let pipeline = Pipeline()
        let client = try EtcdClient(endpoints: [etcd.url])
        let instancer = EtcdInstancer(service: "sum", client: client, telemetry: pipeline.telemetry)
        let watching = Task { try await instancer.run() }
        defer { watching.cancel() }
        try await client.put("/kite/services/sum/a", "127.0.0.1:9001")
        try await client.put("/kite/services/sum/b", "127.0.0.1:9002")
        let both = ["127.0.0.1:9001", "127.0.0.1:9002"]
        _ = try await firstEvent(of: instancer, "both instances") { $0.instances == both }

        await etcd.stop()
        let failed = try await firstEvent(of: instancer, "the watch to break") { $0.error != nil }
        #expect(failed.instances == both)
        #expect(pipeline.sample(#"kite_discovery_instances{service="sum"}"#) == 2)

        try await etcd.start()
        try await client.delete("/kite/services/sum/a")
        try await client.put("/kite/services/sum/c", "127.0.0.1:9003")
        let resynced = try await firstEvent(of: instancer, "the resync after the restart") {
            $0.error == nil && $0.instances == ["127.0.0.1:9002", "127.0.0.1:9003"]
        }
        #expect(resynced.instances.count == 2)
        #expect((pipeline.sample(#"kite_discovery_watch_reconnects_total{service="sum"}"#) ?? 0) >= 1)
        #expect((pipeline.sample(#"kite_discovery_errors_total{service="sum"}"#) ?? 0) >= 1)
    }

    @Test("a lease lost on the server (revoked) is noticed and the instance registers again")
    func lostLease() async throws {
        let etcd = try await EtcdServer()
        let pipeline = Pipeline()
        let client = try EtcdClient(endpoints: [etcd.url])
        let instancer = EtcdInstancer(service: "svc", client: client, telemetry: pipeline.telemetry)
        let watching = Task { try await instancer.run() }
        defer { watching.cancel() }
        let registration = RegistrationService(
            EtcdRegistrar(service: "svc", instance: "127.0.0.1:7000", client: client, ttl: .seconds(3)),
            telemetry: pipeline.telemetry
        )
        let running = Task { try await registration.run() }
        defer { running.cancel() }
        _ = try await firstEvent(of: instancer, "the registration") { $0.instances == ["127.0.0.1:7000"] }

        let leases = try await etcd.etcdctl("lease", "list")
        let ids = leases.split(separator: "\n").dropFirst().map { String($0).trimmingCharacters(in: .whitespaces) }
        #expect(ids.count == 1)
        for id in ids { _ = try await etcd.etcdctl("lease", "revoke", id) }
        _ = try await firstEvent(of: instancer, "the revoked registration to go") { $0.instances.isEmpty }
        _ = try await firstEvent(of: instancer, "the registration to come back") { $0.instances == ["127.0.0.1:7000"] }
        // The instancer may see the key just before the registration service counts it.
        try await waitUntil("the second registration to be counted") {
            pipeline.sample(#"kite_discovery_registrations_total{service="svc",instance="127.0.0.1:7000"}"#) == 2
        }
        #expect(pipeline.sample(#"kite_discovery_registrations_lost_total{service="svc",instance="127.0.0.1:7000"}"#) == 1)
    }

    @Test("a watch from a compacted revision is refused with the compact revision")
    func compacted() async throws {
        let etcd = try await EtcdServer()
        let client = try EtcdClient(endpoints: [etcd.url])
        try await client.put("/p/a", "1")
        try await client.put("/p/a", "2")
        let (_, revision) = try await client.range(prefix: "/p/")
        _ = try await etcd.etcdctl("compact", String(revision))
        await #expect(throws: EtcdError.self) {
            try await client.watch(prefix: "/p/", fromRevision: 1) { _, _ in }
        }
        do {
            try await client.watch(prefix: "/p/", fromRevision: 1) { _, _ in }
        } catch let EtcdError.compacted(compactRevision) {
            #expect(compactRevision == revision)
        }
    }

    @Test("a watch cut off while etcd compacts past it: the instancer finds its revision gone, lists again and is current")
    func compactionThroughTheInstancer() async throws {
        let etcd = try await EtcdServer()
        let proxy = try await TCPProxy(upstream: "127.0.0.1:\(etcd.clientPort)")
        let pipeline = Pipeline()
        let direct = try EtcdClient(endpoints: [etcd.url])
        let instancer = EtcdInstancer(
            service: "c",
            client: try EtcdClient(endpoints: ["http://127.0.0.1:\(proxy.port)"]),
            telemetry: pipeline.telemetry
        )
        let watching = Task { try await instancer.run() }
        defer { watching.cancel() }
        try await direct.put("/kite/services/c/a", "127.0.0.1:1")
        _ = try await firstEvent(of: instancer, "the first instance") { $0.instances == ["127.0.0.1:1"] }

        // The network between the instancer and etcd fails; meanwhile the set changes and etcd
        // compacts its history, so the changes cannot be replayed from the instancer's revision.
        try await proxy.cut()
        _ = try await firstEvent(of: instancer, "the broken watch") { $0.error != nil }
        try await direct.delete("/kite/services/c/a")
        try await direct.put("/kite/services/c/b", "127.0.0.1:2")
        try await direct.put("/kite/services/c/b", "127.0.0.1:2")
        let (_, revision) = try await direct.range(prefix: "/kite/")
        _ = try await etcd.etcdctl("compact", String(revision))
        try await proxy.resume()

        let current = try await firstEvent(of: instancer, "the set after the compaction") { $0.error == nil && !$0.instances.contains("127.0.0.1:1") }
        #expect(current.instances == ["127.0.0.1:2"])
        await pipeline.telemetry.forceFlush()
        #expect(pipeline.logs.lines.contains { $0.contains("compacted its history past the watch; listing again") })
        // Counted once the new watch is in place, just after the list.
        try await waitUntil("the resync to be counted") {
            (pipeline.sample(#"kite_discovery_watch_reconnects_total{service="c"}"#) ?? 0) >= 1
        }
    }

    @Test("several endpoints: a dead one is skipped; none alive is a clear error")
    func endpoints() async throws {
        let etcd = try await EtcdServer()
        let dead = "http://127.0.0.1:\(try freePort())"
        let client = try EtcdClient(endpoints: [dead, etcd.url])
        try await client.put("/k", "v")
        #expect(try await client.range(prefix: "/k").keyValues == [EtcdClient.KeyValue(key: "/k", value: "v")])
        let nowhere = try EtcdClient(endpoints: [dead])
        let error = await #expect(throws: EtcdError.self) { try await nowhere.range(prefix: "/") }
        #expect(error?.code == .unavailable)
        #expect(throws: EtcdError.self) { try EtcdClient(endpoints: ["127.0.0.1:2379"]) }
    }
}
