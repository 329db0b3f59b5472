import Kite
import KiteTelemetry
import Synchronization
import Testing

@Suite("Load shedding", .timeLimit(.minutes(1)))
struct LoadShedderTests {
    @Test("sheds only while the CPU is busy and more requests are in flight than throughput × latency allows")
    func sheds() async throws {
        let pipeline = TestPipeline()
        let clock = ManualClock()
        let cpu = Mutex(0.2)
        let shedder = try LoadShedder(
            "svc",
            window: .seconds(1),
            buckets: 10,
            coolOff: .seconds(1),
            cpuSampleInterval: .milliseconds(1),
            telemetry: pipeline.telemetry,
            clock: .manual(clock),
            cpu: .custom { cpu.withLock { $0 } }
        )
        let fast = Endpoint<Int, Int> { value in
            clock.advance(by: .milliseconds(10))
            return value
        }
        .with(.loadShedding(shedder))
        // One bucket of 100 ms: 10 requests of 10 ms each — 100 per second at 10 ms: room for 1.
        for value in 0..<10 { _ = try await fast(value) }
        clock.advance(by: .milliseconds(1))
        let gate = Gate()
        let held = Endpoint<Int, Int> { value in
            await gate.pass()
            return value
        }
        .with(.loadShedding(shedder))
        let first = Task { try await held(1) }
        await gate.waitForArrivals(1)
        // CPU idle: a second request is admitted even over the bound.
        let second = Task { try await held(2) }
        await gate.waitForArrivals(2)

        // The CPU gets busy (the smoothed reading climbs with each sample); with two requests in
        // flight, over the bound of 1, new ones are shed.
        var refusals = 0
        cpu.withLock { $0 = 1.0 }
        for _ in 0..<20 {
            clock.advance(by: .milliseconds(1))
            do { _ = try await fast(0) } catch is RefusedError { refusals += 1 }
        }
        #expect(shedder.cpuUtilization > 0.9)
        #expect(refusals > 0)
        let refusal = await #expect(throws: RefusedError.self) { try await held(3) }
        refusals += 1
        #expect(refusal?.reason == .overloaded)
        #expect(refusal?.code == .unavailable)

        // The CPU calms down, but within the cool-off of the last refusal the bound still holds…
        cpu.withLock { $0 = 0 }
        for _ in 0..<30 {
            clock.advance(by: .milliseconds(1))
            do { _ = try await fast(0) } catch is RefusedError { refusals += 1 }
        }
        #expect(shedder.cpuUtilization < 0.9)
        await #expect(throws: RefusedError.self) { try await held(4) }
        refusals += 1
        // …and once it is over, requests are admitted again.
        clock.advance(by: .seconds(1))
        #expect(try await fast(6) == 6)
        let third = Task { try await held(5) }
        await gate.waitForArrivals(3)
        gate.open()
        for task in [first, second, third] { _ = try await task.value }
        #expect(shedder.inFlight == 0)

        let text = pipeline.exposition
        #expect(text.contains(#"kite_limiter_refused_total{limiter="svc",kind="load_shedder",reason="overloaded"} \#(refusals)"#))
        #expect(text.contains(#"kite_limiter_in_flight{limiter="svc",kind="load_shedder"} 0"#))
        #expect(text.contains(#"kite_load_shedder_cpu_utilization{limiter="svc"}"#))
    }

    @Test("the system CPU reading is a fraction between 0 and 1")
    func systemCPU() async throws {
        let pipeline = TestPipeline()
        let shedder = try LoadShedder("sys", cpuSampleInterval: .milliseconds(1), telemetry: pipeline.telemetry)
        let endpoint = Endpoint<Int, Int> { $0 }.with(.loadShedding(shedder))
        // Two samples are needed for a reading; keep calling until one has landed.
        let start = ContinuousClock.now
        var sum = 0
        while shedder.cpuUtilization == 0, ContinuousClock.now - start < .seconds(5) {
            for value in 0..<1000 { sum &+= try await endpoint(value) }
        }
        #expect(sum > 0)
        #expect(shedder.cpuUtilization > 0 && shedder.cpuUtilization <= 1)
    }
}
