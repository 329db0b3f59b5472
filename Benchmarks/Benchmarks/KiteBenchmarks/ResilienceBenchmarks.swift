import Benchmark
import Kite
import KiteTelemetry

/// What each resilience component costs a call when nothing trips: its admission and release
/// alone (single-threaded, and with two threads contending on the same component), and an
/// endpoint call through its middleware next to a bare one.
func resilienceBenchmarks() {
    let telemetry = makeTelemetry(sampler: ConstantSampler.alwaysOff, logLevel: .warning)

    /// Runs `operation` `count` times split over this thread and one other.
    func contended(_ benchmark: Benchmark, _ operation: @escaping @Sendable () -> Void) {
        let perThread = benchmark.scaledIterations.count / 2
        let other = Thread { for _ in 0..<perThread { operation() } }
        benchmark.startMeasurement()
        other.start()
        for _ in 0..<perThread { operation() }
        other.join()
        benchmark.stopMeasurement()
    }

    // MARK: Circuit breaker, closed

    func breaker() throws -> CircuitBreaker {
        try CircuitBreaker("bench", policy: .consecutiveFailures(5), telemetry: telemetry)
    }

    Benchmark("Circuit breaker closed: acquire + succeeded") { benchmark in
        let breaker = try breaker()
        for _ in benchmark.scaledIterations {
            let permit = try breaker.acquire()
            breaker.succeeded(permit)
        }
    }

    Benchmark("Circuit breaker closed: acquire + succeeded, 2 threads contending") { benchmark in
        let breaker = try breaker()
        contended(benchmark) {
            if let permit = try? breaker.acquire() { breaker.succeeded(permit) }
        }
    }

    // MARK: Token bucket, admitting

    func bucket() throws -> RateLimiter {
        try RateLimiter("bench", rate: 1e12, burst: 1_000_000, telemetry: telemetry)
    }

    Benchmark("Token bucket admit") { benchmark in
        let limiter = try bucket()
        for _ in benchmark.scaledIterations { try limiter.tryAcquire() }
    }

    Benchmark("Token bucket admit, 2 threads contending") { benchmark in
        let limiter = try bucket()
        contended(benchmark) { try? limiter.tryAcquire() }
    }

    // MARK: Bulkhead, a slot free

    func bulkhead() throws -> Bulkhead {
        try Bulkhead("bench", maxConcurrentCalls: 64, telemetry: telemetry)
    }

    Benchmark("Bulkhead admit + release") { benchmark in
        let bulkhead = try bulkhead()
        for _ in benchmark.scaledIterations {
            if bulkhead.tryAcquire() { bulkhead.release() }
        }
    }

    Benchmark("Bulkhead admit + release, 2 threads contending") { benchmark in
        let bulkhead = try bulkhead()
        contended(benchmark) {
            if bulkhead.tryAcquire() { bulkhead.release() }
        }
    }

    // MARK: Load shedder, not overloaded

    func shedder() throws -> LoadShedder {
        try LoadShedder("bench", telemetry: telemetry, cpu: .custom { 0.1 })
    }

    Benchmark("Load shedder admit + finish") { benchmark in
        let shedder = try shedder()
        for _ in benchmark.scaledIterations { try shedder.admit().finish() }
    }

    Benchmark("Load shedder admit + finish, 2 threads contending") { benchmark in
        let shedder = try shedder()
        contended(benchmark) { try? shedder.admit().finish() }
    }

    // MARK: Through the middleware

    Benchmark("Endpoint call through a pass-through middleware (the floor of one layer)", configuration: perCall()) { benchmark in
        let passThrough = Middleware<Int, Int> { next in Endpoint { request in try await next(request) } }
        let endpoint = Endpoint<Int, Int> { $0 &+ 1 }.with(passThrough)
        for index in benchmark.scaledIterations { blackHole(try await endpoint(index)) }
    }

    Benchmark("Endpoint call through a closed breaker", configuration: perCall()) { benchmark in
        let endpoint = Endpoint<Int, Int> { $0 &+ 1 }.with(.circuitBreaker(try breaker()))
        for index in benchmark.scaledIterations { blackHole(try await endpoint(index)) }
    }

    Benchmark("Endpoint call through breaker, token bucket, bulkhead and shedder", configuration: perCall()) { benchmark in
        let endpoint = Endpoint<Int, Int> { $0 &+ 1 }.with(
            .loadShedding(try shedder()),
            .rateLimited(try bucket()),
            .bulkhead(try bulkhead()),
            .circuitBreaker(try breaker())
        )
        for index in benchmark.scaledIterations { blackHole(try await endpoint(index)) }
    }
}
