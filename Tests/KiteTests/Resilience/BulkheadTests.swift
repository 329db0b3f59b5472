import Kite
import KiteTelemetry
import Synchronization
import Testing
import Tracing

// The limit guards against a hang, not a speed: alone the suite takes 50 ms, but the
// 1,000-call test waits its turn on the cooperative pool behind the whole parallel suite and ends
// only some seconds before it (44–75 s into a full run on two cores).
@Suite("Bulkheads", .timeLimit(.minutes(3)))
struct BulkheadTests {
    @Test("1,000 concurrent calls through a bulkhead of 10 never exceed 10 in flight")
    func boundedInFlight() async throws {
        let pipeline = TestPipeline()
        let bulkhead = try Bulkhead(
            "pool",
            maxConcurrentCalls: 10,
            maxWaitingCalls: 1000,
            // The wait is not under test, and under the parallel suite a call queued at its start
            // can wait for a slot as long as the whole run (a CI run refused one after 60 s): a hang
            // is the time limit's to catch.
            maxWait: .seconds(3600),
            telemetry: pipeline.telemetry
        )
        let inFlight = Tally()
        let endpoint = Endpoint<Int, Int> { value in
            inFlight.enter()
            await Task.yield()
            inFlight.leave()
            return value
        }
        .with(.bulkhead(bulkhead))
        let sum = try await withThrowingTaskGroup(of: Int.self) { group in
            for value in 0..<1000 { group.addTask { try await endpoint(value) } }
            return try await group.reduce(0, +)
        }
        #expect(sum == 999 * 1000 / 2)
        #expect(inFlight.highWater <= 10)
        #expect(inFlight.highWater >= 2)
        #expect(bulkhead.inFlight == 0)
        #expect(bulkhead.waiting == 0)
        #expect(pipeline.exposition.contains(#"kite_limiter_admitted_total{limiter="pool",kind="bulkhead"} 1000"#))
        #expect(pipeline.exposition.contains(#"kite_limiter_in_flight{limiter="pool",kind="bulkhead"} 0"#))
    }

    @Test("full with no queue: refused at once; with a queue: waits, then refused when the queue is full or the wait too long")
    func refusals() async throws {
        let pipeline = TestPipeline()
        let clock = ManualClock()
        let gate = Gate()
        let bulkhead = try Bulkhead(
            "db",
            maxConcurrentCalls: 2,
            maxWaitingCalls: 1,
            maxWait: .milliseconds(100),
            telemetry: pipeline.telemetry,
            clock: .manual(clock)
        )
        let endpoint = Endpoint<Int, Int> { value in
            await gate.pass()
            return value
        }
        .with(.bulkhead(bulkhead))
        let running = [Task { try await endpoint(1) }, Task { try await endpoint(2) }]
        await gate.waitForArrivals(2)
        #expect(bulkhead.inFlight == 2)
        // The third waits; the fourth finds the queue full.
        let waiting = Task { try await endpoint(3) }
        await clock.waitForSleepers(1)
        #expect(bulkhead.waiting == 1)
        let full = await #expect(throws: RefusedError.self) { try await endpoint(4) }
        #expect(full?.reason == .bulkheadFull)
        #expect(full?.code == .resourceExhausted)
        // The waiting call gives up after maxWait.
        clock.advance(by: .milliseconds(100))
        let timedOut = await #expect(throws: RefusedError.self) { try await waiting.value }
        #expect(timedOut?.reason == .queueTimeout)
        #expect(bulkhead.waiting == 0)

        // A waiting call gets the slot a finishing call releases.
        let next = Task { try await endpoint(5) }
        await clock.waitForSleepers(1)
        gate.open()
        for task in running { _ = try await task.value }
        #expect(try await next.value == 5)
        #expect(bulkhead.inFlight == 0)

        let text = pipeline.exposition
        #expect(text.contains(#"kite_limiter_refused_total{limiter="db",kind="bulkhead",reason="bulkhead_full"} 1"#))
        #expect(text.contains(#"kite_limiter_refused_total{limiter="db",kind="bulkhead",reason="queue_timeout"} 1"#))
        #expect(text.contains(#"kite_limiter_waited_total{limiter="db",kind="bulkhead"} 2"#))
        #expect(text.contains(#"kite_limiter_admitted_total{limiter="db",kind="bulkhead"} 3"#))
        #expect(text.contains(#"kite_limiter_limit{limiter="db",kind="bulkhead"} 2"#))
    }

    @Test("a caller that cancels while waiting leaves the queue")
    func cancelledWaiter() async throws {
        let pipeline = TestPipeline()
        let gate = Gate()
        // A wait long enough that the waiter cannot time out before the test cancels it, however
        // loaded the machine (with the default 1 s it could, and the wait below never ended).
        let bulkhead = try Bulkhead("c", maxConcurrentCalls: 1, maxWaitingCalls: 5, maxWait: .seconds(600), telemetry: pipeline.telemetry)
        let endpoint = Endpoint<Int, Int> { value in
            await gate.pass()
            return value
        }
        .with(.bulkhead(bulkhead))
        let first = Task { try await endpoint(1) }
        await gate.waitForArrivals(1)
        let waiting = Task { try await endpoint(2) }
        try await waitUntilWaiting(bulkhead, 1)
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        #expect(bulkhead.waiting == 0)
        gate.open()
        #expect(try await first.value == 1)
        #expect(bulkhead.inFlight == 0)
    }

    @Test("bad configuration is refused at construction")
    func badConfiguration() {
        let telemetry = TestPipeline().telemetry
        #expect(throws: ResilienceConfigurationError(component: #"bulkhead "b""#, problem: "maxConcurrentCalls must be at least 1, got 0")) {
            try Bulkhead("b", maxConcurrentCalls: 0, telemetry: telemetry)
        }
        #expect(throws: ResilienceConfigurationError(component: #"bulkhead "b""#, problem: "maxWait must be longer than zero, got 0.0 seconds")) {
            try Bulkhead("b", maxConcurrentCalls: 1, maxWaitingCalls: 1, maxWait: .zero, telemetry: telemetry)
        }
    }

    /// Waits until `count` calls queue in `bulkhead`, yielding between looks; fails after 30 s.
    private func waitUntilWaiting(_ bulkhead: Bulkhead, _ count: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while bulkhead.waiting < count {
            guard ContinuousClock.now < deadline else {
                Issue.record("\(count) calls never queued (\(bulkhead.waiting) waiting)")
                throw CancellationError()
            }
            await Task.yield()
        }
    }
}
