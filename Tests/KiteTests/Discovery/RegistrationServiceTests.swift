import Kite
import KiteTelemetry
import ServiceLifecycle
import ServiceLifecycleTestKit
import Synchronization
import Testing

@Suite("Discovery: registration tied to the service's lifecycle")
struct RegistrationServiceTests {
    /// A registrar that records what it was asked, fails its first registrations on request, and
    /// loses its registration when the test says so.
    final class Recorder: Registrar {
        let service = "svc"
        let instance = "127.0.0.1:1"
        let backend = "test"
        let trail = Mutex<[String]>([])
        let failuresLeft = Atomic<Int>(0)
        let losses = AsyncStream<Void>.makeStream()
        let steps = AsyncStream<String>.makeStream()

        func note(_ step: String) {
            self.trail.withLock { $0.append(step) }
            self.steps.continuation.yield(step)
        }

        func register() async throws {
            if self.failuresLeft.wrappingSubtract(1, ordering: .relaxed).oldValue > 0 {
                self.note("register failed")
                throw DiscoveryDown()
            }
            self.note("register")
        }

        func keepAlive() async throws {
            for await _ in self.losses.stream { return }
            throw CancellationError()
        }

        func deregister() async throws { self.note("deregister") }

        /// Waits until `step` happened (again).
        func wait(for step: String, in steps: inout AsyncStream<String>.Iterator) async {
            while let next = await steps.next(), next != step {}
        }
    }

    @Test("registers once ready, again after a failure and after a loss, and deregisters as soon as shutdown begins")
    func lifecycle() async throws {
        let pipeline = TestPipeline()
        let recorder = Recorder()
        recorder.failuresLeft.store(1, ordering: .relaxed)
        let readiness = Readiness()
        let server = readiness.register()
        let registration = RegistrationService(recorder, readiness: readiness, telemetry: pipeline.telemetry)
        var steps = recorder.steps.stream.makeAsyncIterator()

        try await testGracefulShutdown { trigger in
            let running = Task { try await registration.run() }
            readiness.setListening(true, for: server)
            await recorder.wait(for: "register", in: &steps)
            #expect(recorder.trail.withLock { $0 } == ["register failed", "register"])
            #expect(pipeline.exposition.contains(#"kite_discovery_registered{service="svc",instance="127.0.0.1:1"} 1"#))

            recorder.losses.continuation.yield()
            await recorder.wait(for: "register", in: &steps)
            #expect(pipeline.exposition.contains(#"kite_discovery_registrations_lost_total{service="svc",instance="127.0.0.1:1"} 1"#))

            // A server sees graceful shutdown first: deregistered before this service's own turn.
            readiness.beginShutdown()
            await recorder.wait(for: "deregister", in: &steps)
            #expect(pipeline.exposition.contains(#"kite_discovery_registered{service="svc",instance="127.0.0.1:1"} 0"#))
            trigger.triggerGracefulShutdown()
            try await running.value
        }
        #expect(recorder.trail.withLock { $0 } == ["register failed", "register", "register", "deregister"])
        let text = pipeline.exposition
        #expect(text.contains(#"kite_discovery_registrations_total{service="svc",instance="127.0.0.1:1"} 2"#))
        #expect(text.contains(#"kite_discovery_registration_errors_total{service="svc",instance="127.0.0.1:1"} 1"#))
    }

    @Test("never ready: never registered, nothing to deregister")
    func neverReady() async throws {
        let pipeline = TestPipeline()
        let recorder = Recorder()
        let readiness = Readiness()
        _ = readiness.register()
        let registration = RegistrationService(recorder, readiness: readiness, telemetry: pipeline.telemetry)
        try await testGracefulShutdown { trigger in
            let running = Task { try await registration.run() }
            trigger.triggerGracefulShutdown()
            try await running.value
        }
        #expect(recorder.trail.withLock { $0 }.isEmpty)
    }
}
