import Kite
import KiteTelemetry
import Synchronization
import Testing
import Tracing

@Suite("Timeouts")
struct TimeoutTests {
    @Test("a call past its deadline is cancelled and the caller gets an error naming the endpoint and the time")
    func timesOut() async throws {
        let clock = ManualClock()
        let sawCancellation = Atomic<Bool>(false)
        let gate = Gate()
        let endpoint = Endpoint<Int, Int> { value in
            await gate.pass()
            sawCancellation.store(Task.isCancelled, ordering: .relaxed)
            try Task.checkCancellation()
            return value
        }
        .with(try .timeout(.seconds(1), name: "add", clock: .manual(clock)))
        let call = Task { try await endpoint(1) }
        await gate.waitForArrivals(1)
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(1))
        let error = await #expect(throws: TimeoutError.self) { try await call.value }
        #expect(error?.description == "add timed out after 1 s")
        #expect(error?.code == .deadlineExceeded)
        #expect(error?.code.httpStatus == 504)
        let cancelled = sawCancellation.load(ordering: .relaxed)
        #expect(cancelled)
    }

    @Test("a call in time returns its answer; the deadline is in the context for transports to send on")
    func inTime() async throws {
        let deadline = Mutex<ContinuousClock.Instant?>(nil)
        let endpoint = Endpoint<Int, Int> { value in
            deadline.withLock { $0 = ServiceContext.current?.deadline }
            return value * 2
        }
        .with(try .timeout(.seconds(5), name: "double"))
        let before = ContinuousClock.now
        #expect(try await endpoint(21) == 42)
        let seen = try #require(deadline.withLock { $0 })
        #expect(seen > before + .seconds(4) && seen <= .now + .seconds(5))

        // An earlier deadline of the caller is kept.
        var context = ServiceContext.topLevel
        let early = ContinuousClock.now + .milliseconds(500)
        context.deadline = early
        _ = try await ServiceContext.$current.withValue(context) { try await endpoint(1) }
        #expect(deadline.withLock { $0 } == early)
    }

    @Test("errors of the inner call pass through unchanged")
    func errorsPassThrough() async throws {
        let endpoint = Endpoint<Int, Int> { _ in throw NotFound() }.with(try .timeout(.seconds(5), name: "find"))
        await #expect(throws: NotFound.self) { try await endpoint(1) }
    }

    @Test("a zero or negative limit is refused at construction")
    func badLimit() {
        #expect(throws: ResilienceConfigurationError(component: #"timeout "t""#, problem: "limit must be longer than zero, got 0.0 seconds")) {
            _ = try Middleware<Int, Int>.timeout(.zero, name: "t")
        }
    }
}
