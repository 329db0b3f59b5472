import Kite
import KiteTelemetry
import Synchronization
import Testing

@Suite("Adaptive concurrency limits", .timeLimit(.minutes(1)))
struct AdaptiveConcurrencyLimiterTests {
    /// Runs `count` calls at once through `endpoint`, the admitted ones all taking `latency` on
    /// `clock`; returns how many were refused.
    private func batch(
        _ count: Int,
        latency: Duration,
        through endpoint: Endpoint<Int, Int>,
        gate: Gate,
        clock: ManualClock
    ) async throws -> Int {
        let refused = Tally()
        return try await withThrowingTaskGroup(of: Void.self) { group in
            for value in 0..<count {
                group.addTask {
                    do {
                        _ = try await endpoint(value)
                    } catch is RefusedError {
                        refused.add()
                    }
                }
            }
            // Every call is either held at the gate or refused.
            while gate.arrivals + refused.value < count { await Task.yield() }
            clock.advance(by: latency)
            gate.open()
            try await group.waitForAll()
            return refused.value
        }
    }

    private func limiterEndpoint(_ limiter: AdaptiveConcurrencyLimiter) -> (Endpoint<Int, Int>, () -> Gate) {
        let current = Mutex(Gate())
        let endpoint = Endpoint<Int, Int> { value in
            await current.withLock { $0 }.pass()
            return value
        }
        .with(.adaptiveConcurrencyLimit(limiter))
        return (endpoint, { current.withLock { $0 = Gate(); return $0 } })
    }

    @Test("gradient: the limit grows while latency holds and falls when the downstream slows")
    func gradient() async throws {
        let pipeline = TestPipeline()
        let clock = ManualClock()
        let limiter = try AdaptiveConcurrencyLimiter(
            "gradient",
            algorithm: .gradient(initialLimit: 10, maxLimit: 100),
            telemetry: pipeline.telemetry,
            clock: .manual(clock)
        )
        let (endpoint, nextGate) = self.limiterEndpoint(limiter)
        for _ in 0..<20 {
            let limit = limiter.limit
            let refused = try await self.batch(limit, latency: .milliseconds(10), through: endpoint, gate: nextGate(), clock: clock)
            #expect(refused == 0)
        }
        let grown = limiter.limit
        #expect(grown > 30)
        // Five times slower: the limit comes down.
        for _ in 0..<10 {
            let limit = limiter.limit
            _ = try await self.batch(limit, latency: .milliseconds(50), through: endpoint, gate: nextGate(), clock: clock)
        }
        let shrunk = limiter.limit
        #expect(shrunk < grown / 2)
        // Over the limit, calls are refused at once.
        let refused = try await self.batch(shrunk + 5, latency: .milliseconds(50), through: endpoint, gate: nextGate(), clock: clock)
        #expect(refused >= 5)
        let text = pipeline.exposition
        #expect(text.contains(#"kite_limiter_limit{limiter="gradient",kind="adaptive_concurrency"} \#(limiter.limit)"#))
        #expect(text.contains(#"kite_limiter_refused_total{limiter="gradient",kind="adaptive_concurrency",reason="concurrency_limit"} \#(refused)"#))
    }

    @Test("AIMD: one more per call while in use; backs off on slow or failed calls")
    func aimd() async throws {
        let pipeline = TestPipeline()
        let clock = ManualClock()
        let limiter = try AdaptiveConcurrencyLimiter(
            "aimd",
            algorithm: .aimd(initialLimit: 4, maxLimit: 50, backoffRatio: 0.5, timeout: .milliseconds(100)),
            telemetry: pipeline.telemetry,
            clock: .manual(clock)
        )
        let (endpoint, nextGate) = self.limiterEndpoint(limiter)
        // Four calls at a limit of 4: those that ran with at least half the limit in use add one
        // each (which ones depends on the order they finish in).
        _ = try await self.batch(4, latency: .milliseconds(10), through: endpoint, gate: nextGate(), clock: clock)
        let grown = limiter.limit
        #expect((6...7).contains(grown))
        // Slower than the timeout: each call halves the limit, down to the minimum of 1.
        _ = try await self.batch(grown, latency: .milliseconds(200), through: endpoint, gate: nextGate(), clock: clock)
        #expect(limiter.limit == 1)
        // A failed call backs off too.
        let failing = Endpoint<Int, Int> { _ in throw Unavailable() }.with(.adaptiveConcurrencyLimit(limiter))
        _ = try await self.batch(1, latency: .milliseconds(1), through: endpoint, gate: nextGate(), clock: clock)
        #expect(limiter.limit == 2)
        await #expect(throws: Unavailable.self) { try await failing(1) }
        #expect(limiter.limit == 1)
    }

    @Test("bad configuration is refused at construction")
    func badConfiguration() {
        let telemetry = TestPipeline().telemetry
        #expect(throws: ResilienceConfigurationError(component: #"adaptive concurrency limit "a""#, problem: "initialLimit (500) must be within minLimit...maxLimit (1...200)")) {
            try AdaptiveConcurrencyLimiter("a", algorithm: .gradient(initialLimit: 500), telemetry: telemetry)
        }
        #expect(throws: ResilienceConfigurationError(component: #"adaptive concurrency limit "a""#, problem: "backoffRatio must be in (0, 1), got 1.5")) {
            try AdaptiveConcurrencyLimiter("a", algorithm: .aimd(backoffRatio: 1.5), telemetry: telemetry)
        }
    }
}
