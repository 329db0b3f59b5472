import Foundation
import Kite
import KiteTelemetry
import KiteTesting
import Logging
import Synchronization
import Testing
import Tracing

/// A pipeline that keeps everything in memory.
struct TestPipeline {
    let telemetry: Telemetry
    let spans: InMemorySpanExporter
    let logs: InMemoryLogOutput

    init(logLevel: Logger.Level = .info) {
        let spans = InMemorySpanExporter()
        let logs = InMemoryLogOutput()
        var configuration = TelemetryConfiguration(serviceName: "test", environment: [:])
        configuration.tracesExporter = .custom(spans)
        configuration.logOutput = logs
        configuration.logLevel = logLevel
        configuration.scrapeListener = nil
        configuration.processMetrics = false
        self.telemetry = Telemetry(configuration: configuration)
        self.spans = spans
        self.logs = logs
    }

    var exposition: String {
        String(decoding: self.telemetry.registry.render(format: .prometheusText), as: UTF8.self)
    }

    func flush() async {
        await self.telemetry.forceFlush()
    }
}

struct Refused: Error {}

@Suite("Endpoints and middleware")
struct EndpointTests {
    @Test("middleware composes in reading order: the first listed is the outermost")
    func middlewareOrder() async throws {
        let trail = Mutex<[String]>([])
        func tag(_ name: String) -> Middleware<Int, Int> {
            .intercept { request, next in
                trail.withLock { $0.append("\(name) in") }
                let response = try await next(request)
                trail.withLock { $0.append("\(name) out") }
                return response + 1
            }
        }
        let endpoint = Endpoint<Int, Int> { request in
            trail.withLock { $0.append("endpoint") }
            return request * 10
        }
        .with(tag("a"), tag("b"))
        #expect(try await endpoint(4) == 42)
        #expect(trail.withLock { $0 } == ["a in", "b in", "endpoint", "b out", "a out"])
    }

    @Test("the one decorator records RED metrics, a span and a log line per call")
    func instrumentedSuccessAndFailure() async throws {
        let test = TestTelemetry()
        let endpoint = Endpoint<String, Int> { request in
            guard !request.isEmpty else { throw Refused() }
            return request.count
        }
        .instrumented("count", test.telemetry)

        #expect(try await endpoint("abc") == 3)
        #expect(try await endpoint("de") == 2)
        await #expect(throws: Refused.self) { try await endpoint("") }

        #expect(test.counter("kite_endpoint_requests_total", ["endpoint": "count", "outcome": "success", "error_type": ""]) == 2)
        #expect(test.counter("kite_endpoint_requests_total", ["endpoint": "count", "outcome": "failure", "error_type": "Refused"]) == 1)
        #expect(test.histogram("kite_endpoint_request_duration_seconds", ["endpoint": "count", "outcome": "success"])?.count == 2)
        #expect(test.histogram("kite_endpoint_request_duration_seconds", ["endpoint": "count", "outcome": "failure"])?.count == 1)
        #expect(test.gauge("kite_endpoint_in_flight", ["endpoint": "count"]) == 0)

        let spans = test.spans(named: "count")
        #expect(spans.count == 3 && test.spans.count == 3)
        let failed = try #require(spans.first { $0.status?.code == .error })
        #expect(failed.events.map(\.name) == ["exception"])
        #expect(failed.attributes.get("error.type") == .string("Refused"))

        let records = test.logs(containing: "endpoint call")
        #expect(records.count == 3)
        #expect(records.filter { $0.metadata["outcome"] == "success" && $0.level == .info }.count == 2)
        let errorRecord = try #require(records.first { $0.metadata["outcome"] == "failure" })
        #expect(errorRecord.level == .warning)
        #expect(errorRecord.metadata["error_type"] == "Refused")
        // Each call's line carries its own span's IDs, the failed call's as the others'.
        for span in spans { #expect(test.logs(in: span).map(\.message) == ["endpoint call"]) }
        #expect(test.logs(in: failed).map(\.message) == ["endpoint call"])
        await test.shutdown()
    }

    @Test("the endpoint's span is a child of the caller's span")
    func spanParent() async throws {
        let test = TestTelemetry()
        let endpoint = Endpoint<Int, Int> { $0 }.instrumented("echo", test.telemetry)
        try await test.telemetry.tracer.withSpan("server", ofKind: .server) { _ in _ = try await endpoint(1) }
        let server = try #require(test.span(named: "server"))
        #expect(test.children(of: server).map(\.name) == ["echo"])
        await test.shutdown()
    }

    @Test("in-flight counts calls in progress")
    func inFlight() async throws {
        let pipeline = TestPipeline()
        let (entered, enteredContinuation) = AsyncStream<Void>.makeStream()
        let (release, releaseContinuation) = AsyncStream<Void>.makeStream()
        let endpoint = Endpoint<Int, Int> { value in
            enteredContinuation.yield()
            for await _ in release { break }
            return value
        }
        .instrumented("slow", pipeline.telemetry)
        async let result = endpoint(7)
        for await _ in entered { break }
        #expect(pipeline.exposition.contains(#"kite_endpoint_in_flight{endpoint="slow"} 1"#))
        releaseContinuation.yield()
        #expect(try await result == 7)
        #expect(pipeline.exposition.contains(#"kite_endpoint_in_flight{endpoint="slow"} 0"#))
    }

    @Test("log sampling: one call in n is logged; failures always")
    func logSampling() async throws {
        let pipeline = TestPipeline()
        let endpoint = Endpoint<Bool, Bool> { fail in
            if fail { throw Refused() }
            return true
        }
        .instrumented("sampled", pipeline.telemetry, options: .init(logSampling: .oneIn(3)))
        for _ in 0..<10 { _ = try await endpoint(false) }
        _ = try? await endpoint(true)
        await pipeline.flush()
        let lines = pipeline.logs.lines.filter { $0.contains("endpoint=sampled") }
        #expect(lines.filter { $0.contains("outcome=success") }.count == 4)
        #expect(lines.filter { $0.contains("outcome=failure") }.count == 1)
    }

    @Test("the success line written straight into Kite's log handler has swift-log's fields and the span's IDs")
    func directSuccessLine() async throws {
        let pipeline = TestPipeline()
        let endpoint = Endpoint<Int, Int> { $0 }.instrumented("direct", pipeline.telemetry)
        _ = try await endpoint(1)
        await pipeline.flush()
        let line = try #require(pipeline.logs.lines.first { $0.contains("endpoint=direct") })
        // Every value in this line is plain but the message, `"endpoint call"`: split on spaces.
        var fields: [String: String] = [:]
        for pair in line.split(separator: " ") where pair != #"call""# {
            let parts = pair.split(separator: "=", maxSplits: 1)
            fields[String(parts[0])] = parts.count == 2 ? String(parts[1]) : ""
        }
        let span = try #require(pipeline.spans.exportedSpans.first)
        #expect(fields["msg"] == #""endpoint"#)
        #expect(fields["level"] == "info")
        #expect(fields["source"] == "Kite", "what swift-log derives from the decorator's file")
        #expect(fields["label"] == "test", "the service name")
        #expect(fields["outcome"] == "success")
        #expect(fields["trace_id"] == "\(span.context.traceID)")
        #expect(fields["span_id"] == "\(span.context.spanID)")
        let seconds = try #require(fields["duration_seconds"].flatMap(Double.init))
        #expect(seconds > 0 && seconds < 10)
        #expect(fields.count == 10, "\(fields.keys.sorted())")
        // One timing: the span lasts exactly the logged duration, and the line's `ts` is the
        // span's end (`…:SS.ffffffZ`, to the microsecond).
        #expect(span.endNanoseconds - span.startNanoseconds == UInt64((seconds * 1e9).rounded()))
        let stamp = try #require(fields["ts"]?.split(separator: ":").last?.dropLast())
        let end = span.endNanoseconds
        #expect(stamp == String(format: "%02llu.%06llu", end / 1_000_000_000 % 60, end / 1000 % 1_000_000))
    }

    @Test("a level below the logger's suppresses the line but not metrics or spans")
    func suppressedLogLevel() async throws {
        let pipeline = TestPipeline(logLevel: .info)
        let endpoint = Endpoint<Int, Int> { $0 }.instrumented("quiet", pipeline.telemetry, options: .init(logLevel: .debug))
        _ = try await endpoint(1)
        await pipeline.flush()
        #expect(!pipeline.logs.lines.contains { $0.contains("endpoint=quiet") })
        #expect(pipeline.exposition.contains(#"kite_endpoint_requests_total{endpoint="quiet",outcome="success",error_type=""} 1"#))
        #expect(pipeline.spans.exportedSpans.count == 1)
    }
}
