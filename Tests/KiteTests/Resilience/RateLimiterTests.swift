import Kite
import KiteTelemetry
import Synchronization
import Testing
import Tracing

@Suite("Rate limiters")
struct RateLimiterTests {
    @Test("erroring: a burst at once, then one call per interval; a refusal says when the next token comes")
    func erroring() async throws {
        let pipeline = TestPipeline()
        let clock = ManualClock()
        let limiter = try RateLimiter("api", rate: 10, burst: 3, telemetry: pipeline.telemetry, clock: .manual(clock))
        let endpoint = Endpoint<Int, Int> { $0 }.with(.rateLimited(limiter))
        for value in 0..<3 { #expect(try await endpoint(value) == value) }
        let refusal = await #expect(throws: RefusedError.self) { try await endpoint(3) }
        #expect(refusal?.reason == .rateLimited)
        #expect(refusal?.code == .resourceExhausted)
        #expect(refusal?.retryAfter == .milliseconds(100))
        #expect(refusal?.description == #"rate limit "api" exceeded; retry after 100 ms"#)
        clock.advance(by: .milliseconds(40))
        #expect(await #expect(throws: RefusedError.self) { try await endpoint(3) }?.retryAfter == .milliseconds(60))
        clock.advance(by: .milliseconds(60))
        #expect(try await endpoint(4) == 4)

        let text = pipeline.exposition
        #expect(text.contains(#"kite_limiter_admitted_total{limiter="api",kind="token_bucket"} 4"#))
        #expect(text.contains(#"kite_limiter_refused_total{limiter="api",kind="token_bucket",reason="rate_limited"} 2"#))
        #expect(text.contains(#"kite_limiter_limit{limiter="api",kind="token_bucket"} 10"#))
    }

    @Test("delaying: a call waits for its token, up to maxWait and never past its deadline")
    func delaying() async throws {
        let pipeline = TestPipeline()
        let clock = ManualClock()
        let limiter = try RateLimiter(
            "slow",
            rate: 10,
            burst: 1,
            mode: .delaying(maxWait: .milliseconds(150)),
            telemetry: pipeline.telemetry,
            clock: .manual(clock)
        )
        try await limiter.acquire()
        // The next token is 100 ms away: the call waits for it.
        let second = Task { try await limiter.acquire() }
        await clock.waitForSleepers(1)
        // A third would wait 200 ms, more than maxWait: refused at once.
        let refusal = await #expect(throws: RefusedError.self) { try await limiter.acquire() }
        #expect(refusal?.retryAfter == .milliseconds(200))
        clock.advance(by: .milliseconds(100))
        try await second.value

        // A deadline 20 ms away (real time) is sooner than the 100 ms wait: refused at once.
        var context = ServiceContext.topLevel
        context.deadline = .now + .milliseconds(20)
        await ServiceContext.$current.withValue(context) {
            await #expect(throws: RefusedError.self) { try await limiter.acquire() }
        }

        // A caller that cancels while waiting gets its CancellationError.
        let waiting = Task { try await limiter.acquire() }
        await clock.waitForSleepers(1)
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }

        let text = pipeline.exposition
        #expect(text.contains(#"kite_limiter_admitted_total{limiter="slow",kind="token_bucket"} 2"#))
        #expect(text.contains(#"kite_limiter_refused_total{limiter="slow",kind="token_bucket",reason="rate_limited"} 2"#))
        #expect(text.contains(#"kite_limiter_refused_total{limiter="slow",kind="token_bucket",reason="queue_timeout"} 1"#))
        #expect(text.contains(#"kite_limiter_waited_total{limiter="slow",kind="token_bucket"} 2"#))
        #expect(text.contains(#"kite_limiter_wait_duration_seconds_sum{limiter="slow",kind="token_bucket"} 0.1"#))
    }

    @Test("under contention a bucket of rate R admits R·t ± 1 calls over time t")
    func contention() async throws {
        let pipeline = TestPipeline()
        let clock = ManualClock()
        let rate = 1000.0
        let limiter = try RateLimiter("hot", rate: rate, burst: 1, telemetry: pipeline.telemetry, clock: .manual(clock))
        let admitted = Tally()
        // 1 s in steps of 1 ms; at each step 16 tasks race for the token that accrued.
        let steps = 1000
        for _ in 0..<steps {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<16 {
                    group.addTask {
                        for _ in 0..<4 {
                            if (try? await limiter.acquire()) != nil { admitted.add() }
                        }
                    }
                }
            }
            clock.advance(by: .milliseconds(1))
        }
        let expected = rate * Double(steps) * 0.001
        #expect(abs(Double(admitted.value) - expected) <= 1)
    }

    @Test("bad configuration is refused at construction")
    func badConfiguration() {
        let telemetry = TestPipeline().telemetry
        #expect(throws: ResilienceConfigurationError(component: #"rate limiter "r""#, problem: "rate must be a finite number above 0, got 0.0")) {
            try RateLimiter("r", rate: 0, telemetry: telemetry)
        }
        #expect(throws: ResilienceConfigurationError(component: #"rate limiter "r""#, problem: "burst must be at least 1, got 0")) {
            try RateLimiter("r", rate: 5, burst: 0, telemetry: telemetry)
        }
        #expect(throws: ResilienceConfigurationError(component: #"keyed rate limiter "k""#, problem: "maxKeys must be at least 1, got 0")) {
            try KeyedRateLimiter("k", rate: 5, maxKeys: 0, telemetry: telemetry)
        }
    }
}

@Suite("Keyed rate limiters")
struct KeyedRateLimiterTests {
    @Test("each key has its own bucket")
    func perKey() async throws {
        let pipeline = TestPipeline()
        let clock = ManualClock()
        let limiter = try KeyedRateLimiter("tenant", rate: 1, burst: 2, telemetry: pipeline.telemetry, clock: .manual(clock))
        let endpoint = Endpoint<String, String> { $0 }.with(.rateLimited(limiter, key: { $0 }))
        for _ in 0..<2 { _ = try await endpoint("a") }
        await #expect(throws: RefusedError.self) { try await endpoint("a") }
        for _ in 0..<2 { _ = try await endpoint("b") }
        await #expect(throws: RefusedError.self) { try await endpoint("b") }
        clock.advance(by: .seconds(1))
        #expect(try await endpoint("a") == "a")
        #expect(limiter.keyCount == 2)
    }

    @Test("memory is bounded: the least recently used key is evicted, and evictions are counted")
    func eviction() async throws {
        let pipeline = TestPipeline()
        let clock = ManualClock()
        let limiter = try KeyedRateLimiter(
            "client",
            rate: 1,
            burst: 1,
            maxKeys: 3,
            telemetry: pipeline.telemetry,
            clock: .manual(clock)
        )
        for key in ["a", "b", "c"] { try await limiter.acquire(key: key) }
        // "a" is used again (and refused): it becomes the most recent; "b" is now the oldest.
        await #expect(throws: RefusedError.self) { try await limiter.acquire(key: "a") }
        try await limiter.acquire(key: "d")  // evicts "b"
        #expect(limiter.keyCount == 3)
        // "a" and "c" kept their empty buckets; "b" comes back with a full one (evicting "c").
        await #expect(throws: RefusedError.self) { try await limiter.acquire(key: "a") }
        try await limiter.acquire(key: "b")
        await #expect(throws: RefusedError.self) { try await limiter.acquire(key: "d") }
        try await limiter.acquire(key: "c")

        // Ten thousand distinct keys later the limiter still holds three.
        for index in 0..<10_000 { try await limiter.acquire(key: "k\(index)") }
        #expect(limiter.keyCount == 3)
        let text = pipeline.exposition
        #expect(text.contains(#"kite_limiter_keys{limiter="client"} 3"#))
        #expect(text.contains(#"kite_limiter_key_evictions_total{limiter="client"} 10003"#))
    }
}
