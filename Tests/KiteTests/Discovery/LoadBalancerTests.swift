import Kite
import KiteTelemetry
import Synchronization
import Testing

@Suite("Load balancing: round robin, random, power of two choices")
struct LoadBalancerTests {
    static func loads(_ count: Int) -> [InstanceLoad] {
        (0..<count).map { InstanceLoad(instance: "i\($0)") }
    }

    @Test("round robin picks each instance exactly once per round, from concurrent callers too")
    func roundRobinExact() async throws {
        let loads = Self.loads(3)
        let balancer = RoundRobin()
        #expect((0..<7).map { _ in balancer.pick(from: loads) } == [0, 1, 2, 0, 1, 2, 0])

        let counts = Counts(3)
        let fresh = RoundRobin()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<300 {
                        let index = fresh.pick(from: loads)
                        counts.add(index)
                    }
                }
            }
        }
        #expect(counts.values == [800, 800, 800])
    }

    @Test("random is uniform (chi-square, fixed seed) and a seed repeats its picks")
    func randomUniform() {
        let loads = Self.loads(5)
        let balancer = RandomBalancer(seed: 42)
        let draws = 10_000
        var counts = [Int](repeating: 0, count: loads.count)
        for _ in 0..<draws { counts[balancer.pick(from: loads)] += 1 }
        let expected = Double(draws) / Double(loads.count)
        let chiSquare = counts.reduce(0.0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
        // 4 degrees of freedom: P(χ² > 18.47) = 0.001.
        #expect(chiSquare < 18.47, "counts \(counts), χ² \(chiSquare)")

        let again = RandomBalancer(seed: 42)
        let other = RandomBalancer(seed: 43)
        let first = (0..<50).map { _ in RandomBalancer(seed: 7).pick(from: loads) }
        #expect(first == (0..<50).map { _ in RandomBalancer(seed: 7).pick(from: loads) })
        let a = (0..<50).map { _ in again.pick(from: loads) }
        let b = (0..<50).map { _ in other.pick(from: loads) }
        #expect(a != b)
    }

    @Test("power of two choices prefers the instance with fewer calls in flight and the lower latency")
    func powerOfTwoChoicesCost() {
        let loads = Self.loads(2)
        let balancer = PowerOfTwoChoices(seed: 1)
        loads[0].begin()
        loads[0].end(seconds: 0.100)
        loads[1].begin()
        loads[1].end(seconds: 0.010)
        #expect((0..<20).allSatisfy { _ in balancer.pick(from: loads) == 1 })
        // Ten calls in flight on the fast one make it the dearer: 0.010 × 11 > 0.100 × 1.
        for _ in 0..<10 { loads[1].begin() }
        #expect((0..<20).allSatisfy { _ in balancer.pick(from: loads) == 0 })
        #expect(loads[1].inFlight == 10)
        #expect(abs(loads[0].latency - 0.100) < 1e-3)
    }

    @Test("power of two choices sends less traffic to an instance made slow on purpose")
    func powerOfTwoChoicesAvoidsSlow() async throws {
        let pipeline = TestPipeline()
        let instancer = StaticInstancer(service: "p2c", instances: ["fast1", "fast2", "slow"], telemetry: pipeline.telemetry)
        let served = Served()
        let endpointer = Endpointer<Int, Int>(instancer, telemetry: pipeline.telemetry) { instance in
            InstanceEndpoint(Endpoint { value in
                served.add(instance)
                // Far apart: on a loaded machine a 200 µs sleep ends tens of milliseconds late, and
                // the slow one must stay slower than that (with 50 ms it got a sixth once).
                try await Task.sleep(for: instance == "slow" ? .milliseconds(250) : .microseconds(200))
                return value
            })
        }
        let running = Task { try await endpointer.run() }
        defer { running.cancel() }
        await waitForInstances(endpointer, ["fast1", "fast2", "slow"])

        let sum = endpointer.balanced(by: .powerOfTwoChoices(seed: 3))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<6 {
                group.addTask {
                    for call in 0..<100 { _ = try await sum(worker * 1000 + call) }
                }
            }
            try await group.waitForAll()
        }
        let counts = served.counts
        let total = counts.values.reduce(0, +)
        #expect(total == 600)
        // Round robin would send a third (200); p2c must send the slow one less than half that.
        #expect((counts["slow"] ?? 0) < total / 6, "\(counts)")
        let text = pipeline.exposition
        #expect(text.contains(#"kite_balancer_picks_total{service="p2c",instance="slow"} \#(counts["slow"] ?? 0)"#))
        #expect(text.contains(#"kite_balancer_attempts_count{service="p2c"} 600"#))
    }
}

/// Picks counted by index, from concurrent tasks.
final class Counts: Sendable {
    private let counts: Mutex<[Int]>
    init(_ size: Int) { self.counts = Mutex([Int](repeating: 0, count: size)) }
    func add(_ index: Int) { self.counts.withLock { $0[index] += 1 } }
    var values: [Int] { self.counts.withLock { $0 } }
}

/// Calls counted by instance, from concurrent tasks.
final class Served: Sendable {
    private let served = Mutex([String: Int]())
    func add(_ instance: String) { self.served.withLock { $0[instance, default: 0] += 1 } }
    var counts: [String: Int] { self.served.withLock { $0 } }
}
