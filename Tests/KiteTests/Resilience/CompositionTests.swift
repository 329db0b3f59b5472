import Kite
import KiteTelemetry
import Testing

@Suite("Resilience middleware with the one decorator")
struct CompositionTests {
    /// Every resilience middleware, in the order given, around an endpoint that doubles.
    private func stack(_ telemetry: Telemetry, decoratorFirst: Bool) throws -> Endpoint<Int, Int> {
        let resilience: [Middleware<Int, Int>] = [
            try .timeout(.seconds(5), name: "double"),
            try .retry(RetryPolicy(maxAttempts: 2, initialBackoff: .zero), name: "double", telemetry: telemetry),
            .loadShedding(try LoadShedder("double", telemetry: telemetry, cpu: .custom { 0 })),
            .rateLimited(try RateLimiter("double", rate: 1000, burst: 1000, telemetry: telemetry)),
            .rateLimited(try KeyedRateLimiter("double", rate: 1000, burst: 1000, telemetry: telemetry), key: { "k\($0 % 3)" }),
            .bulkhead(try Bulkhead("double", maxConcurrentCalls: 4, maxWaitingCalls: 100, telemetry: telemetry)),
            .adaptiveConcurrencyLimit(try AdaptiveConcurrencyLimiter("double", telemetry: telemetry)),
            .circuitBreaker(try CircuitBreaker("double", policy: .consecutiveFailures(5), telemetry: telemetry)),
        ]
        let decorator = Middleware<Int, Int>.instrumentation("double", telemetry)
        let middlewares = decoratorFirst ? [decorator] + resilience : resilience + [decorator]
        return Endpoint<Int, Int> { value in
            if value < 0 { throw NotFound() }
            return value * 2
        }
        .with(middlewares)
    }

    @Test("with the decorator outermost or innermost, calls pass, business errors pass through, and the decorator counts both", arguments: [true, false])
    func eitherOrder(decoratorFirst: Bool) async throws {
        let pipeline = TestPipeline()
        let endpoint = try self.stack(pipeline.telemetry, decoratorFirst: decoratorFirst)
        let results = try await withThrowingTaskGroup(of: Int.self) { group in
            for value in 0..<50 { group.addTask { try await endpoint(value) } }
            return try await group.reduce(0, +)
        }
        #expect(results == 2 * (49 * 50 / 2))
        await #expect(throws: NotFound.self) { try await endpoint(-1) }
        let text = pipeline.exposition
        #expect(text.contains(#"kite_endpoint_requests_total{endpoint="double",outcome="success",error_type=""} 50"#))
        #expect(text.contains(#"kite_endpoint_requests_total{endpoint="double",outcome="business_error",error_type="NotFound"} 1"#))
        #expect(text.contains(#"kite_circuit_breaker_state{breaker="double"} 0"#))
        #expect(text.contains(#"kite_limiter_admitted_total{limiter="double",kind="bulkhead"} 51"#))
        #expect(text.contains(#"kite_retry_retries_total{retry="double"} 0"#))
    }
}
