import Kite
import KiteTelemetry
import Synchronization
import Testing
import Tracing

@Suite("Retry")
struct RetryTests {
    /// An endpoint that throws each of `errors` in turn, then answers.
    final class Script: Sendable {
        let errors: Mutex<[any Error]>
        let calls = Tally()

        init(_ errors: [any Error]) { self.errors = Mutex(errors) }

        var endpoint: Endpoint<Int, Int> {
            Endpoint { value in
                self.calls.add()
                if let error = self.errors.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) { throw error }
                return value
            }
        }
    }

    @Test("retries a failure with exponential backoff and full jitter; each attempt is a child span of the call")
    func backoffAndSpans() async throws {
        let pipeline = TestPipeline()
        let clock = ManualClock()
        let script = Script([Unavailable(), Unavailable()])
        let endpoint = script.endpoint.with(
            try .retry(
                RetryPolicy(maxAttempts: 3, initialBackoff: .milliseconds(100)),
                name: "sum",
                telemetry: pipeline.telemetry,
                clock: .manual(clock),
                random: { 0.5 }
            )
        )
        let parent = pipeline.telemetry.tracer.startSpan("caller")
        let call = Task { try await ServiceContext.$current.withValue(parent.context) { try await endpoint(7) } }
        // Full jitter with a draw of 0.5: 50 ms before the first retry, 100 ms before the second.
        await clock.waitForSleepers(1)
        clock.advance(by: .milliseconds(49))
        #expect(script.calls.value == 1)
        clock.advance(by: .milliseconds(1))
        await clock.waitForSleepers(1)
        #expect(script.calls.value == 2)
        clock.advance(by: .milliseconds(100))
        #expect(try await call.value == 7)
        parent.end()
        #expect(script.calls.value == 3)

        await pipeline.flush()
        let attempts = pipeline.spans.exportedSpans.filter { $0.name == "sum attempt" }
        #expect(attempts.count == 3)
        #expect(attempts.allSatisfy { $0.context.parentSpanID == parent.spanContext.spanID })
        let numbers = attempts.compactMap { span -> Int64? in
            if case .int64(let number) = span.attributes.get("kite.retry.attempt") { return number }
            return nil
        }
        #expect(numbers.sorted() == [1, 2, 3])
        #expect(attempts.filter { $0.status?.code == .error }.count == 2)

        let text = pipeline.exposition
        #expect(text.contains(#"kite_retry_retries_total{retry="sum"} 2"#))
        #expect(text.contains(#"kite_retry_attempts_bucket{retry="sum",le="2"} 0"#))
        #expect(text.contains(#"kite_retry_attempts_bucket{retry="sum",le="3"} 1"#))
    }

    @Test("business errors, unknown errors and local refusals are not retried")
    func notRetried() async throws {
        let pipeline = TestPipeline()
        for error in [NotFound(), Refused(), RefusedError(.circuitOpen, by: "b")] as [any Error] {
            let script = Script([error])
            let endpoint = script.endpoint.with(
                try .retry(RetryPolicy(maxAttempts: 5), name: "once", telemetry: pipeline.telemetry, random: { 0 })
            )
            await #expect(throws: (any Error).self) { try await endpoint(1) }
            #expect(script.calls.value == 1)
        }
    }

    @Test("a retry waits at least the Retry-After the error carries")
    func honoursRetryAfter() async throws {
        let pipeline = TestPipeline()
        let clock = ManualClock()
        let limited = RemoteError(code: .resourceExhausted, message: "slow down", retryAfter: .milliseconds(300))
        let script = Script([limited])
        let endpoint = script.endpoint.with(
            try .retry(RetryPolicy(), name: "limited", telemetry: pipeline.telemetry, clock: .manual(clock), random: { 1 })
        )
        let call = Task { try await endpoint(3) }
        await clock.waitForSleepers(1)
        clock.advance(by: .milliseconds(299))
        #expect(script.calls.value == 1)
        clock.advance(by: .milliseconds(1))
        #expect(try await call.value == 3)
        #expect(script.calls.value == 2)
    }

    @Test("the budget holds retries to its ratio of the calls when everything fails")
    func budget() async throws {
        let pipeline = TestPipeline()
        let budget = try RetryBudget(ratio: 0.2, maxTokens: 0)
        let calls = Tally()
        let endpoint = Endpoint<Int, Int> { _ in
            calls.add()
            throw Unavailable()
        }
        .with(try .retry(RetryPolicy(maxAttempts: 3, budget: budget), name: "budgeted", telemetry: pipeline.telemetry, random: { 0 }))
        for value in 0..<100 { _ = try? await endpoint(value) }
        let retries = calls.value - 100
        #expect(retries == 20)
        let text = pipeline.exposition
        #expect(text.contains(#"kite_retry_retries_total{retry="budgeted"} 20"#))
        // Every call wanted two retries; the budget allowed 20 of the 200.
        #expect(text.contains(#"kite_retry_budget_exhausted_total{retry="budgeted"} 100"#))
        #expect(text.contains(#"kite_retry_budget_tokens{retry="budgeted"} 0"#))
    }

    @Test("the overall timeout cancels the attempt running; no retry starts past the call's deadline")
    func deadlines() async throws {
        let pipeline = TestPipeline()
        let clock = ManualClock()
        let gate = Gate()
        let hanging = Endpoint<Int, Int> { value in
            await gate.pass()
            try Task.checkCancellation()
            return value
        }
        .with(
            try .retry(
                RetryPolicy(timeout: .seconds(1)),
                name: "hangs",
                telemetry: pipeline.telemetry,
                clock: .manual(clock),
                random: { 0 }
            )
        )
        let call = Task { try await hanging(1) }
        await gate.waitForArrivals(1)
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(1))
        #expect(await #expect(throws: TimeoutError.self) { try await call.value }?.description == "hangs timed out after 1 s")

        // A backoff of 2 s with 100 ms left before the caller's deadline: no retry.
        let script = Script([Unavailable()])
        let endpoint = script.endpoint.with(
            try .retry(
                RetryPolicy(initialBackoff: .seconds(2), maxBackoff: .seconds(2)),
                name: "late",
                telemetry: pipeline.telemetry,
                random: { 1 }
            )
        )
        var context = ServiceContext.topLevel
        context.deadline = .now + .milliseconds(100)
        await ServiceContext.$current.withValue(context) {
            await #expect(throws: Unavailable.self) { try await endpoint(1) }
        }
        #expect(script.calls.value == 1)
    }

    @Test("bad configuration is refused at construction")
    func badConfiguration() {
        let telemetry = TestPipeline().telemetry
        #expect(throws: ResilienceConfigurationError(component: #"retry "r""#, problem: "maxAttempts must be at least 1, got 0")) {
            _ = try Middleware<Int, Int>.retry(RetryPolicy(maxAttempts: 0), name: "r", telemetry: telemetry)
        }
        #expect(throws: ResilienceConfigurationError(component: "retry budget", problem: "ratio must be in (0, 1], got 1.5")) {
            _ = try RetryBudget(ratio: 1.5)
        }
    }
}
