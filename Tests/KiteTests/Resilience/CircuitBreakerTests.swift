import Kite
import KiteTelemetry
import Synchronization
import Testing
import Tracing

@Suite("Circuit breakers")
struct CircuitBreakerTests {
    /// An endpoint that fails while `failing` is set.
    final class Downstream: Sendable {
        let failing = Atomic<Bool>(false)
        let calls = Atomic<Int>(0)

        var endpoint: Endpoint<Int, Int> {
            Endpoint { value in
                self.calls.add(1, ordering: .relaxed)
                if self.failing.load(ordering: .relaxed) { throw Unavailable() }
                return value
            }
        }
    }

    @Test("consecutive failures: closed → open → half-open → closed, every transition in metrics, logs and the span")
    func consecutiveLifecycle() async throws {
        let pipeline = TestPipeline()
        let clock = ManualClock()
        let breaker = try CircuitBreaker(
            "down",
            policy: .consecutiveFailures(3, coolDown: .seconds(5)),
            telemetry: pipeline.telemetry,
            clock: .manual(clock)
        )
        let downstream = Downstream()
        let endpoint = downstream.endpoint.with(.circuitBreaker(breaker))
        #expect(pipeline.exposition.contains(#"kite_circuit_breaker_state{breaker="down"} 0"#))

        downstream.failing.store(true, ordering: .relaxed)
        // Two failures, a success (which ends the streak), then three failures open it.
        for _ in 0..<2 { await #expect(throws: Unavailable.self) { try await endpoint(1) } }
        downstream.failing.store(false, ordering: .relaxed)
        #expect(try await endpoint(1) == 1)
        downstream.failing.store(true, ordering: .relaxed)
        for _ in 0..<2 { await #expect(throws: Unavailable.self) { try await endpoint(1) } }
        #expect(breaker.state == .closed)

        // The third failure in a row happens inside a traced call: the span gets the event.
        let span = pipeline.telemetry.tracer.startSpan("caller")
        await ServiceContext.$current.withValue(span.context) {
            await #expect(throws: Unavailable.self) { try await endpoint(1) }
        }
        span.end()
        #expect(breaker.state == .open)
        #expect(downstream.calls.load(ordering: .relaxed) == 6)

        // Open: refused without calling, with the cool-down left.
        clock.advance(by: .seconds(2))
        let refusal = await #expect(throws: RefusedError.self) { try await endpoint(1) }
        #expect(refusal?.reason == .circuitOpen)
        #expect(refusal?.retryAfter == .seconds(3))
        #expect(refusal?.code == .unavailable)
        #expect(downstream.calls.load(ordering: .relaxed) == 6)

        // After the cool-down the next call is a trial; it succeeds and closes the breaker.
        clock.advance(by: .seconds(3))
        downstream.failing.store(false, ordering: .relaxed)
        #expect(try await endpoint(2) == 2)
        #expect(breaker.state == .closed)

        await pipeline.flush()
        let text = pipeline.exposition
        #expect(text.contains(#"kite_circuit_breaker_state{breaker="down"} 0"#))
        #expect(text.contains(#"kite_circuit_breaker_transitions_total{breaker="down",from="closed",to="open"} 1"#))
        #expect(text.contains(#"kite_circuit_breaker_transitions_total{breaker="down",from="open",to="half_open"} 1"#))
        #expect(text.contains(#"kite_circuit_breaker_transitions_total{breaker="down",from="half_open",to="closed"} 1"#))
        #expect(text.contains(#"kite_circuit_breaker_refusals_total{breaker="down",reason="circuit_open"} 1"#))

        let lines = pipeline.logs.lines.filter { $0.contains(#"msg="circuit breaker state change""#) }
        #expect(lines.count == 3)
        let opened = try #require(lines.first)
        #expect(opened.contains("level=warning"))
        #expect(opened.contains("breaker=down"))
        #expect(opened.contains("from=closed") && opened.contains("to=open"))
        #expect(opened.contains(#"cause="3 consecutive failures""#))

        let caller = try #require(pipeline.spans.exportedSpans.first { $0.name == "caller" })
        let event = try #require(caller.events.first { $0.name == "circuit_breaker.state_change" })
        #expect(event.attributes.get("kite.circuit_breaker.to") == .string("open"))
        #expect(event.attributes.get("kite.circuit_breaker.name") == .string("down"))
    }

    @Test("business errors and cancelled calls never open a breaker")
    func businessErrorsAndCancellation() async throws {
        let pipeline = TestPipeline()
        let breaker = try CircuitBreaker("biz", policy: .consecutiveFailures(1), telemetry: pipeline.telemetry)
        let notFound = Endpoint<Int, Int> { _ in throw NotFound() }.with(.circuitBreaker(breaker))
        for _ in 0..<20 { await #expect(throws: NotFound.self) { try await notFound(1) } }
        #expect(breaker.state == .closed)

        let cancelledRemotely = Endpoint<Int, Int> { _ in throw RemoteError(code: .cancelled, message: "gone") }
            .with(.circuitBreaker(breaker))
        await #expect(throws: RemoteError.self) { try await cancelledRemotely(1) }
        #expect(breaker.state == .closed)

        // A caller that cancels its call: the endpoint sees the cancellation and fails.
        let gate = Gate()
        let slow = Endpoint<Int, Int> { value in
            await gate.pass()
            try Task.checkCancellation()
            return value
        }
        .with(.circuitBreaker(breaker))
        let task = Task { try await slow(1) }
        await gate.waitForArrivals(1)
        task.cancel()
        gate.open()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(breaker.state == .closed)
    }

    @Test("half-open admits only its trial calls, under concurrency; a failed trial opens it again")
    func halfOpenTrialLimit() async throws {
        let pipeline = TestPipeline()
        let clock = ManualClock()
        let breaker = try CircuitBreaker(
            "trial",
            policy: .consecutiveFailures(1, coolDown: .seconds(1), halfOpenCalls: 3, successesToClose: 3),
            telemetry: pipeline.telemetry,
            clock: .manual(clock)
        )
        let failing = Atomic<Bool>(true)
        let gate = Gate()
        let endpoint = Endpoint<Int, Int> { value in
            if failing.load(ordering: .relaxed) { throw Unavailable() }
            await gate.pass()
            return value
        }
        .with(.circuitBreaker(breaker))
        await #expect(throws: Unavailable.self) { try await endpoint(0) }
        #expect(breaker.state == .open)
        clock.advance(by: .seconds(1))
        failing.store(false, ordering: .relaxed)

        // 50 concurrent calls: exactly 3 get in as trials, the other 47 are refused at once.
        let refusals = try await withThrowingTaskGroup(of: RefusedError.Reason?.self) { group in
            for value in 1...50 {
                group.addTask {
                    do {
                        _ = try await endpoint(value)
                        return nil
                    } catch let refusal as RefusedError {
                        return refusal.reason
                    }
                }
            }
            var refusals: [RefusedError.Reason] = []
            for _ in 0..<47 {
                if let reason = try await group.next() ?? nil { refusals.append(reason) }
            }
            // The 47 refusals came back while the trials are still held.
            #expect(gate.arrivals == 3)
            gate.open()
            while let result = try await group.next() {
                if let reason = result { refusals.append(reason) }
            }
            return refusals
        }
        #expect(refusals.count == 47)
        #expect(refusals.allSatisfy { $0 == .halfOpenFull })
        #expect(gate.arrivals == 3)
        #expect(breaker.state == .closed)

        // Open it again, then fail the trial: straight back to open.
        failing.store(true, ordering: .relaxed)
        await #expect(throws: Unavailable.self) { try await endpoint(0) }
        clock.advance(by: .seconds(1))
        await #expect(throws: Unavailable.self) { try await endpoint(0) }
        #expect(breaker.state == .open)
        #expect(pipeline.exposition.contains(#"kite_circuit_breaker_transitions_total{breaker="trial",from="half_open",to="open"} 1"#))
        #expect(pipeline.exposition.contains(#"kite_circuit_breaker_refusals_total{breaker="trial",reason="half_open_full"} 47"#))
    }

    @Test("failure ratio: opens over the minimum of calls, and failures roll out of the window")
    func failureRatioWindow() async throws {
        let pipeline = TestPipeline()
        let clock = ManualClock()
        let breaker = try CircuitBreaker(
            "ratio",
            policy: .failureRatio(0.5, minimumCalls: 10, window: .seconds(10)),
            telemetry: pipeline.telemetry,
            clock: .manual(clock)
        )
        let downstream = Downstream()
        let endpoint = downstream.endpoint.with(.circuitBreaker(breaker))

        // Four failures and four successes: a ratio of 0.5, but under the minimum of calls.
        for index in 0..<8 {
            downstream.failing.store(index % 2 == 0, ordering: .relaxed)
            _ = try? await endpoint(index)
        }
        #expect(breaker.state == .closed)
        // Eleven seconds on, those calls have left the window: ten successes then keep it closed.
        clock.advance(by: .seconds(11))
        downstream.failing.store(false, ordering: .relaxed)
        for index in 0..<6 { _ = try await endpoint(index) }
        downstream.failing.store(true, ordering: .relaxed)
        for index in 0..<4 { _ = try? await endpoint(index) }
        #expect(breaker.state == .closed)  // 4 of 10 failed: under the ratio
        _ = try? await endpoint(0)
        _ = try? await endpoint(0)
        #expect(breaker.state == .open)  // 6 of 12 failed
    }

    @Test("Hystrix: the request volume threshold, the error percentage, the concurrency limit and the timeout")
    func hystrix() async throws {
        let pipeline = TestPipeline()
        let clock = ManualClock()
        let breaker = try CircuitBreaker(
            "hystrix",
            policy: .hystrix(
                errorThresholdPercentage: 50,
                requestVolumeThreshold: 4,
                sleepWindow: .seconds(5),
                maxConcurrentCalls: 2,
                timeout: .milliseconds(100)
            ),
            telemetry: pipeline.telemetry,
            clock: .manual(clock)
        )
        let gate = Gate()
        let endpoint = Endpoint<Int, Int> { value in
            if value == 0 { await gate.pass() }
            if value < 0 { throw Unavailable() }
            return value
        }
        .with(.circuitBreaker(breaker))

        // Two calls held: a third is refused for concurrency.
        let first = Task { try await endpoint(0) }
        let second = Task { try await endpoint(0) }
        await gate.waitForArrivals(2)
        let refusal = await #expect(throws: RefusedError.self) { try await endpoint(1) }
        #expect(refusal?.reason == .tooManyConcurrentCalls)
        // The held calls time out (the timeout cancels them) and count as errors.
        await clock.waitForSleepers(2)
        clock.advance(by: .milliseconds(100))
        await #expect(throws: TimeoutError.self) { try await first.value }
        await #expect(throws: TimeoutError.self) { try await second.value }
        // Three errors (two timeouts, one refusal) in three calls: under the volume threshold.
        #expect(breaker.state == .closed)
        #expect(try await endpoint(1) == 1)
        // Four calls, three errors: 75 % ≥ 50 %.
        #expect(breaker.state == .open)

        clock.advance(by: .seconds(5))
        #expect(try await endpoint(2) == 2)
        #expect(breaker.state == .closed)
    }

    @Test("adaptive throttling refuses each call with probability max(0, (requests − k·accepts) / (requests + 1))")
    func adaptiveThrottlingFormula() async throws {
        let pipeline = TestPipeline()
        let clock = ManualClock()
        let draws = Mutex<[Double]>([])
        let source = Mutex(SeededGenerator(seed: 42))
        let breaker = try CircuitBreaker(
            "sre",
            policy: .adaptiveThrottling(k: 2, window: .seconds(60)),
            telemetry: pipeline.telemetry,
            clock: .manual(clock),
            random: {
                let value = source.withLock { Double($0.next() >> 11) / Double(1 << 53) }
                draws.withLock { $0.append(value) }
                return value
            }
        )
        // The backend accepts one call in three.
        let counter = Atomic<Int>(0)
        let endpoint = Endpoint<Int, Int> { value in
            if counter.wrappingAdd(1, ordering: .relaxed).oldValue % 3 != 0 { throw Unavailable() }
            return value
        }
        .with(.circuitBreaker(breaker))

        // The test keeps its own requests and accepts and predicts every decision.
        var requests = 0.0
        var accepts = 0.0
        var refused = 0
        var expectedRefusals = 0.0
        for call in 0..<3000 {
            let probability = max(0, (requests - 2 * accepts) / (requests + 1))
            let drawsBefore = draws.withLock { $0.count }
            var wasRefused = false
            do {
                _ = try await endpoint(call)
                accepts += 1
            } catch let refusal as RefusedError {
                #expect(refusal.reason == .throttled)
                wasRefused = true
                refused += 1
            } catch {}
            // Refused exactly when the draw fell under the formula's probability.
            let draw = draws.withLock { $0.count > drawsBefore ? $0.last : nil }
            #expect(wasRefused == (draw.map { $0 < probability } ?? false))
            // A draw happens exactly when the probability is above zero.
            #expect(draws.withLock { $0.count } == drawsBefore + (probability > 0 ? 1 : 0))
            requests += 1
            expectedRefusals += probability
        }
        // Refusals match the formula's expectation within four standard deviations.
        #expect(abs(Double(refused) - expectedRefusals) < 4 * expectedRefusals.squareRoot())
        #expect(refused > 1000)
        #expect(breaker.state == .halfOpen)
        #expect(pipeline.exposition.contains(#"kite_circuit_breaker_refusals_total{breaker="sre",reason="throttled"} \#(refused)"#))
    }

    @Test("bad configuration is refused at construction with a clear error")
    func badConfiguration() throws {
        let telemetry = TestPipeline().telemetry
        let cases: [(CircuitBreakerPolicy, String)] = [
            (.consecutiveFailures(0), "failures must be at least 1, got 0"),
            (.failureRatio(1.5, minimumCalls: 10), "failure ratio must be in (0, 1], got 1.5"),
            (.failureRatio(0.5, minimumCalls: -1), "minimumCalls must be at least 1, got -1"),
            (.consecutiveFailures(3, coolDown: .zero), "coolDown must be longer than zero, got 0.0 seconds"),
            (.hystrix(errorThresholdPercentage: 150), "errorThresholdPercentage must be in 1...100, got 150"),
            (.hystrix(maxConcurrentCalls: 0), "maxConcurrentCalls must be at least 1, got 0"),
            (.adaptiveThrottling(k: 0.5), "k must be a finite number of at least 1, got 0.5"),
        ]
        for (policy, problem) in cases {
            let error = #expect(throws: ResilienceConfigurationError.self) {
                try CircuitBreaker("bad", policy: policy, telemetry: telemetry)
            }
            #expect(error?.description == #"circuit breaker "bad": \#(problem)"#)
        }
    }
}

/// SplitMix64: a seeded generator, so the random draws of a test are the same on every run.
struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) { self.state = seed }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
