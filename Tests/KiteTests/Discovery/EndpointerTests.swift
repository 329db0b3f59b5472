import Kite
import KiteTelemetry
import Synchronization
import Testing
import Tracing

@Suite("Discovery: endpointer and retry across instances")
struct EndpointerTests {
    /// Endpoints that answer with their instance's name, or throw the error set for it.
    final class Fleet: Sendable {
        let made = Mutex<[String]>([])
        let closed = Mutex<[String]>([])
        let failures = Mutex<[String: any Error]>([:])

        func factory(_ instance: String) throws -> InstanceEndpoint<Int, String> {
            guard !instance.hasPrefix("bad") else { throw BadAddress() }
            self.made.withLock { $0.append(instance) }
            return InstanceEndpoint(
                Endpoint { _ in
                    if let error = self.failures.withLock({ $0[instance] }) { throw error }
                    return instance
                },
                close: { self.closed.withLock { $0.append(instance) } }
            )
        }
    }

    struct BadAddress: Error {}

    @Test("endpoints are made once per instance, kept while it stays, closed when it goes or the endpointer stops")
    func lifecycle() async throws {
        let pipeline = TestPipeline()
        let instancer = TestInstancer(telemetry: pipeline.telemetry)
        let fleet = Fleet()
        let endpointer = Endpointer<Int, String>(instancer, telemetry: pipeline.telemetry, factory: fleet.factory)
        let running = Task { try await endpointer.run() }

        instancer.feed.update(["a", "b", "bad1"])
        await waitForInstances(endpointer, ["a", "b"])
        instancer.feed.update(["b", "c"])
        await waitForInstances(endpointer, ["b", "c"])
        #expect(fleet.made.withLock { $0 } == ["a", "b", "c"])
        #expect(fleet.closed.withLock { $0 } == ["a"])
        await pipeline.flush()
        #expect(pipeline.logs.lines.contains { $0.contains("instance left out") && $0.contains("bad1") })

        let call = endpointer.balanced()
        #expect(Set([try await call(0), try await call(0)]) == ["b", "c"])

        running.cancel()
        _ = try? await running.value
        #expect(Set(fleet.closed.withLock { $0 }) == ["a", "b", "c"])
        #expect(endpointer.endpoints.isEmpty)
    }

    @Test("a discovery error keeps the endpoints; with invalidateAfterError they are dropped once it lasts, and come back with a fresh set")
    func errors() async throws {
        let pipeline = TestPipeline()
        let instancer = TestInstancer(telemetry: pipeline.telemetry)
        let fleet = Fleet()
        let keeping = Endpointer<Int, String>(instancer, telemetry: pipeline.telemetry, factory: fleet.factory)
        let dropping = Endpointer<Int, String>(
            instancer,
            telemetry: pipeline.telemetry,
            invalidateAfterError: .milliseconds(50),
            factory: fleet.factory
        )
        let running = [Task { try await keeping.run() }, Task { try await dropping.run() }]
        defer { running.forEach { $0.cancel() } }

        instancer.feed.update(["a"])
        await waitForInstances(keeping, ["a"])
        await waitForInstances(dropping, ["a"])
        instancer.feed.fail(DiscoveryDown())
        await waitForInstances(dropping, [])
        #expect(keeping.instances == ["a"])
        #expect(try await keeping.balanced()(0) == "a")
        let error = await #expect(throws: NoInstancesError.self) { try await dropping.balanced()(0) }
        #expect(error?.discoveryError is DiscoveryDown)
        #expect(error?.code == .unavailable)
        #expect(fleet.closed.withLock { $0 } == ["a"])

        instancer.feed.update(["a"])
        await waitForInstances(dropping, ["a"])
        #expect(try await dropping.balanced()(0) == "a")
    }

    @Test("a failure is retried on another instance; a business error is not; the final error lists every attempt")
    func retry() async throws {
        let pipeline = TestPipeline()
        let instancer = StaticInstancer(service: "svc", instances: ["a", "b", "c"], telemetry: pipeline.telemetry)
        let fleet = Fleet()
        let endpointer = Endpointer<Int, String>(instancer, telemetry: pipeline.telemetry, factory: fleet.factory)
        let running = Task { try await endpointer.run() }
        defer { running.cancel() }
        await waitForInstances(endpointer, ["a", "b", "c"])

        fleet.failures.withLock { $0 = ["a": Unavailable(), "b": Unavailable()] }
        let retrying = endpointer.balanced(by: .roundRobin, retry: BalancerRetry(maxAttempts: 3))
        for _ in 0..<6 {
            #expect(try await retrying(0) == "c")
        }

        fleet.failures.withLock { $0 = ["a": NotFound(), "b": NotFound(), "c": NotFound()] }
        await #expect(throws: NotFound.self) { try await retrying(0) }

        fleet.failures.withLock { $0 = ["a": Unavailable(), "b": Unavailable(), "c": Unavailable()] }
        let error = await #expect(throws: BalancerRetryError.self) { try await retrying(0) }
        #expect(error?.attempts.map(\.instance).sorted() == ["a", "b", "c"])
        #expect(error?.attempts.allSatisfy { $0.error is Unavailable } == true)
        #expect(error?.code == .unavailable)
        #expect(error.map { CallOutcome(of: $0) } == .failure)
        #expect(error.map { "\($0)" }?.hasPrefix("3 attempts failed: attempt 1 (") == true)

        // Every attempt is a pick; every attempt after a call's first is a retry.
        let text = pipeline.exposition
        let picks = ["a", "b", "c"].compactMap { sample(text, #"kite_balancer_picks_total{service="svc",instance="\#($0)"}"#) }
        let attempts = try #require(sample(text, #"kite_balancer_attempts_sum{service="svc"}"#))
        #expect(sample(text, #"kite_balancer_attempts_count{service="svc"}"#) == 8)
        #expect(picks.reduce(0, +) == attempts)
        #expect(sample(text, #"kite_balancer_retries_total{service="svc"}"#) == attempts - 8)
        #expect(sample(text, #"kite_balancer_attempts_bucket{service="svc",le="3"}"#) == 8)
    }

    @Test("a retry budget bounds the retries; no instance at all is a clear UNAVAILABLE")
    func budgetAndEmpty() async throws {
        let pipeline = TestPipeline()
        let instancer = TestInstancer(telemetry: pipeline.telemetry)
        let fleet = Fleet()
        let endpointer = Endpointer<Int, String>(instancer, telemetry: pipeline.telemetry, factory: fleet.factory)
        let running = Task { try await endpointer.run() }
        defer { running.cancel() }

        let plain = endpointer.balanced()
        let error = await #expect(throws: NoInstancesError.self) { try await plain(0) }
        #expect(error.map { "\($0)" } == "no instances of svc")

        instancer.feed.update(["a", "b"])
        await waitForInstances(endpointer, ["a", "b"])
        fleet.failures.withLock { $0 = ["a": Unavailable(), "b": Unavailable()] }
        let budget = try RetryBudget(ratio: 0.01, maxTokens: 1)
        let retrying = endpointer.balanced(retry: BalancerRetry(maxAttempts: 2, budget: budget))
        await #expect(throws: BalancerRetryError.self) { try await retrying(0) }  // spends the one token
        await #expect(throws: Unavailable.self) { try await retrying(0) }  // no token: one attempt
        #expect(pipeline.exposition.contains(#"kite_balancer_retry_budget_exhausted_total{service="svc"} 1"#))
    }

    /// The value of the exposition line that starts with `series`.
    func sample(_ text: String, _ series: String) -> Double? {
        let line = text.split(separator: "\n").first { $0.hasPrefix(series + " ") }
        return line.flatMap { Double($0.dropFirst(series.count + 1)) }
    }

    @Test("a call whose instances changed under it gets a span event, and each retry is an event on its span")
    func spanEvents() async throws {
        let pipeline = TestPipeline()
        let instancer = TestInstancer(telemetry: pipeline.telemetry)
        let entered = AsyncStream<Void>.makeStream()
        let release = AsyncStream<Void>.makeStream()
        let endpointer = Endpointer<Int, String>(instancer, telemetry: pipeline.telemetry) { instance in
            InstanceEndpoint(Endpoint { value in
                if value == 1 { throw Unavailable() }
                entered.continuation.yield()
                for await _ in release.stream { break }
                return instance
            })
        }
        let running = Task { try await endpointer.run() }
        defer { running.cancel() }
        instancer.feed.update(["a"])
        await waitForInstances(endpointer, ["a"])

        let call = endpointer.balanced()
        let span = pipeline.telemetry.tracer.startSpan("caller")
        let answer = Task { try await ServiceContext.$current.withValue(span.context) { try await call(0) } }
        for await _ in entered.stream { break }
        instancer.feed.update(["a", "b"])
        await waitForInstances(endpointer, ["a", "b"])
        release.continuation.yield()
        #expect(try await answer.value == "a")

        let retrying = endpointer.balanced(retry: BalancerRetry(maxAttempts: 2))
        _ = try? await ServiceContext.$current.withValue(span.context) { try await retrying(1) }
        span.end()
        await pipeline.flush()

        let exported = try #require(pipeline.spans.exportedSpans.first { $0.name == "caller" })
        let changed = try #require(exported.events.first { $0.name == "discovery.endpoints_changed" })
        #expect(changed.attributes.get("kite.discovery.instances") == .int64(2))
        let retries = exported.events.filter { $0.name == "balancer.retry" }
        #expect(retries.count == 1)
        #expect(retries.first?.attributes.get("error.type") == .string("Unavailable"))
    }
}
