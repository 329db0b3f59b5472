import Foundation
import Kite
import KiteTelemetry
import KiteTestSupport
import KiteTesting
import Logging
import Testing
import Tracing

/// `TestTelemetry`: what a Kite user's unit test reads after calling their endpoint.
@Suite("TestTelemetry")
struct TestTelemetryTests {
    struct SumRequest: Codable, Sendable {
        var a: Int
        var b: Int
    }

    struct Overflow: Error {}

    @Test("an endpoint called once: its span, its log line and its counter, read directly")
    func endpointCalledOnce() async throws {
        let test = TestTelemetry()
        let sum = Endpoint { (request: SumRequest) -> Int in
            guard request.a < 100 else { throw Overflow() }
            return request.a + request.b
        }.instrumented("sum", test.telemetry)

        #expect(try await sum(SumRequest(a: 1, b: 2)) == 3)

        let span = try #require(test.span(named: "sum"))
        #expect(span.status == nil)
        let line = try #require(test.logs(containing: "endpoint call").first)
        #expect(line.metadata["outcome"] == "success")
        #expect(line.spanContext?.spanID == span.context.spanID)
        #expect(test.logs(in: span).count == 1)
        #expect(test.counter("kite_endpoint_requests_total", ["endpoint": "sum", "outcome": "success"]) == 1)
        #expect(test.histogram("kite_endpoint_request_duration_seconds", ["endpoint": "sum"])?.count == 1)
        #expect(test.gauge("kite_endpoint_in_flight", ["endpoint": "sum"]) == 0)

        // A failure: the span's status and event, a warning, another series.
        await #expect(throws: Overflow.self) { try await sum(SumRequest(a: 100, b: 0)) }
        let failed = try #require(test.span(named: "sum"))
        #expect(failed.status?.code == .error)
        #expect(failed.events.contains { $0.name == "exception" })
        #expect(test.logs(at: .warning).count == 1)
        #expect(test.counter("kite_endpoint_requests_total", ["endpoint": "sum"]) == 2)
        #expect(test.counter("kite_endpoint_requests_total", ["endpoint": "sum", "outcome": "failure"]) == 1)
        #expect(test.counter("kite_endpoint_requests_total", ["endpoint": "nope"]) == 0)
        await test.shutdown()
    }

    @Test("spans by parent, logs by level, reset, and an unsampled pipeline")
    func queries() async throws {
        let test = TestTelemetry(serviceName: "queries")
        test.telemetry.tracer.withSpan("outer") { _ in
            test.telemetry.tracer.withSpan("inner") { span in
                span.attributes["answer"] = 42
                test.logger.debug("inside", metadata: ["k": "v"])
            }
        }
        let outer = try #require(test.span(named: "outer"))
        let inner = try #require(test.span(named: "inner"))
        #expect(test.children(of: outer).map(\.name) == ["inner"])
        #expect(test.parent(of: inner)?.name == "outer")
        #expect(inner.attributes["answer"]?.toSpanAttribute() == 42)
        #expect(test.logs(at: .debug).map(\.message) == ["inside"])
        #expect(test.logs(in: inner).first?.metadata["k"] == "v")
        test.reset()
        #expect(test.spans.isEmpty && test.logs.isEmpty)

        let unsampled = TestTelemetry(environment: ["OTEL_TRACES_SAMPLER": "always_off"])
        unsampled.telemetry.tracer.withSpan("dropped") { _ in }
        #expect(unsampled.spans.isEmpty)
        await unsampled.shutdown()
        await test.shutdown()
    }

    @Test("1,000 Telemetry values, each shut down, leave the process's thread count where it was; without shutdown it grows")
    func noThreadsLeftBehind() async throws {
        let binary = try packageBinary("kite-thread-count")
        let clean = try await runCommandAsync(binary, ["1000"])
        let (before, after) = try Self.counts(clean.standardOutput)
        #expect(after == before, "\(clean.standardOutput)")
        // The check can fail: 50 pipelines never shut down keep 50 threads.
        let leaky = try await runCommandAsync(binary, ["50", "leak"])
        let (leakBefore, leakAfter) = try Self.counts(leaky.standardOutput)
        #expect(leakAfter - leakBefore >= 50, "\(leaky.standardOutput)")
    }

    static func counts(_ output: String) throws -> (Int, Int) {
        let fields = output.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { field -> Int? in
            guard let equals = field.firstIndex(of: "=") else { return nil }
            return Int(field[field.index(after: equals)...])
        }
        guard fields.count == 2 else { throw TimedOut(what: "kite-thread-count's counts in \(output)") }
        return (fields[0], fields[1])
    }
}
