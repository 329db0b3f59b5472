import Benchmark
import Foundation
import KiteTelemetry
import NIOCore
import NIOHTTP1
import NIOPosix
import Tracing
import W3CTraceContext

/// A span as the OTLP benchmarks export it: 8 attributes of mixed types and 1 event.
func benchmarkSpanRecord(index: Int) -> SpanRecord {
    var attributes = SpanAttributes()
    attributes["http.request.method"] = "POST"
    attributes["http.route"] = "/orders/{id}"
    attributes["http.response.status_code"] = 200
    attributes["server.address"] = "orders.internal"
    attributes["server.port"] = 8080
    attributes["url.scheme"] = "http"
    attributes["retry"] = false
    attributes["order.total"] = 12.5
    return SpanRecord(
        name: "POST /orders/{id}",
        kind: .server,
        context: SpanContext(
            traceID: TraceID.random(),
            spanID: SpanID.random(),
            parentSpanID: SpanID.random(),
            flags: .sampled
        ),
        startNanoseconds: 1_764_000_000_000_000_000 + UInt64(index) * 1000,
        endNanoseconds: 1_764_000_000_000_000_000 + UInt64(index) * 1000 + 250_000,
        attributes: attributes,
        events: [SpanEvent(name: "cache miss", at: DefaultTracerClock.now, attributes: ["cache.key": "order:42"])]
    )
}

/// Starts a span as the OTLP benchmarks make them: 8 attributes of mixed types (set one by one,
/// as Kite's own instrumentation sets them) and 1 event.
func startBenchmarkSpan(_ tracer: KiteTracer) -> KiteSpan {
    let span = tracer.startSpan("POST /orders/{id}", context: .topLevel, ofKind: .server)
    span.setAttribute("http.request.method", "POST")
    span.setAttribute("http.route", "/orders/{id}")
    span.setAttribute("http.response.status_code", 200)
    span.setAttribute("server.address", "orders.internal")
    span.setAttribute("server.port", 8080)
    span.setAttribute("url.scheme", "http")
    span.setAttribute("retry", false)
    span.setAttribute("order.total", 12.5)
    span.addEvent("cache miss")
    return span
}

/// The pipeline of the end-to-end benchmark: spans exported over OTLP/HTTP to `port` (or thrown
/// away when `discarding`), default batch settings, nothing else exported.
func makeOTLPTelemetry(port: Int, discarding: Bool) -> Telemetry {
    var configuration = TelemetryConfiguration(serviceName: "bench", environment: [
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(port)",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
    ])
    configuration.logOutput = DiscardingLogOutput()
    configuration.processMetrics = false
    if discarding { configuration.tracesExporter = .custom(DiscardingExporter()) }
    return Telemetry(configuration: configuration)
}

func otlpBenchmarks() {
    let resource = OTLPResource(serviceName: "bench", attributes: ["service.version": "1.0.0"])
    let batch = (0..<512).map(benchmarkSpanRecord(index:))

    /// Encodes `spans` into one request per iteration, with an encoder grown to its size first.
    func encodeBenchmark(_ name: String, _ spans: [SpanRecord]) {
        Benchmark(name, configuration: once()) { benchmark in
            var encoder = OTLPTraceEncoder(resource: resource)
            encoder.encode(spans)  // warm: the buffer grows to its size once
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(encoder.encode(spans))
            }
        }
    }

    encodeBenchmark("OTLP encode: a batch of 512 spans, 8 attributes + 1 event each", batch)

    // The spans as Kite's instrumentation makes them (each attribute set with `setAttribute`,
    // stored inline in the span): what the end-to-end benchmark encodes as each span ends.
    let collecting = CollectingProcessor()
    let collectingTracer = KiteTracer(sampler: ConstantSampler.alwaysOn, processor: collecting)
    for _ in 0..<512 { startBenchmarkSpan(collectingTracer).end() }
    encodeBenchmark("OTLP encode: a batch of 512 spans, 8 attributes set with setAttribute + 1 event each", collecting.records)

    let processor = BatchSpanProcessor(
        exporter: DiscardingExporter(),
        configuration: .init(maxQueueSize: 4096, maxExportBatchSize: 512, scheduleDelay: .seconds(3600)),
        registry: MetricRegistry()
    )
    let endTracer = KiteTracer(sampler: ConstantSampler.alwaysOn, processor: processor)
    Benchmark("Span end to enqueue: end() of a sampled span (8 attributes, 1 event) into the batch queue", configuration: perCall()) { benchmark in
        // What a request pays when its span ends: the end timestamp, the span handed to the queue
        // as its own record under the queue's lock, and two exported records released. The
        // exporting side runs between samples (`forceFlush`, with one processor for every sample, its
        // queue's memory warm as in a running service); how often the two meet on the lock
        // depends on the load (see the end-to-end benchmark).
        let spans = (0..<benchmark.scaledIterations.count).map { _ in startBenchmarkSpan(endTracer) }
        benchmark.startMeasurement()
        for index in benchmark.scaledIterations {
            spans[index].end()
        }
        benchmark.stopMeasurement()
        await processor.forceFlush()
    }

    // The same span ended into the queue in front of an OTLP exporter: encoded there, under the
    // queue's lock, and freed at once — what a request pays when its spans go to a collector. The
    // queue is exported between samples, to a local endpoint that reads and discards.
    do {
        let collector = try LocalHTTPServer(contentType: "application/x-protobuf")
        let otlp = makeOTLPTelemetry(port: collector.port, discarding: false)
        Benchmark(
            "Span end to enqueue, OTLP: end() of a sampled span (8 attributes, 1 event), encoded into the batch queue",
            configuration: perCall()
        ) { benchmark in
            let spans = (0..<benchmark.scaledIterations.count).map { _ in startBenchmarkSpan(otlp.tracer) }
            benchmark.startMeasurement()
            for index in benchmark.scaledIterations {
                spans[index].end()
            }
            benchmark.stopMeasurement()
            await otlp.forceFlush()
            _ = collector  // kept listening for as long as the benchmark runs
        }
    } catch {
        print("OTLP enqueue benchmark not registered: \(error)")
    }

    Benchmark("Span hand-off: BatchSpanProcessor.onEnd of a finished span's record", configuration: perCall()) { benchmark in
        // The processor's part of the above: the record (a reference to the ended span) put into
        // the queue under its lock.
        var records = (0..<benchmark.scaledIterations.count).map(benchmarkSpanRecord(index:))
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            processor.onEnd(records.removeLast())
        }
        benchmark.stopMeasurement()
        await processor.forceFlush()
    }

    // End to end: spans created with 8 attributes and 1 event, ended, batched, encoded and POSTed
    // to a local HTTP endpoint; paced at 100,000 spans/s (1,000 every 10 ms) for 2 s with the
    // default queue settings. CPU time is the whole process's: with the endpoint in this process,
    // reading the requests is counted too; with the endpoint in another process
    // (Scripts/discard-otlp.py), only the exporting side is — what a service pays. The same load
    // with an exporter that discards each batch tells what exporting over OTLP adds.
    for destination in EndToEndDestination.allCases {
        Benchmark(
            destination.benchmarkName,
            configuration: .init(
                metrics: [.wallClock, .cpuTotal, .custom("dropped spans", polarity: .prefersSmaller, useScalingFactor: false)],
                scalingFactor: .one,
                maxDuration: .seconds(30),
                maxIterations: 3
            )
        ) { benchmark in
            let collector = try LocalHTTPServer(contentType: "application/x-protobuf")
            let otherProcess = destination == .otherProcess ? try DiscardingCollectorProcess() : nil
            defer { otherProcess?.stop() }
            let port = otherProcess?.port ?? collector.port
            let telemetry = makeOTLPTelemetry(port: port, discarding: destination == .discardingExporter)
            let run = Task { try await telemetry.run() }
            benchmark.startMeasurement()
            try await produceEndToEndSpans(telemetry.tracer)
            await telemetry.forceFlush()
            benchmark.stopMeasurement()
            let dropped = unlabelledValue(telemetry.registry, "kite_span_processor_dropped_spans_total") ?? -1
            benchmark.measurement(.custom("dropped spans"), Int(dropped))
            run.cancel()
            _ = try? await run.value
            try await collector.channel.close()
        }
    }
}

/// The end-to-end benchmarks' load: 200,000 spans of ``startBenchmarkSpan(_:)`` ended, 1,000
/// every 10 ms (100,000 spans/s for 2 s).
func produceEndToEndSpans(_ tracer: KiteTracer) async throws {
    let clock = ContinuousClock()
    let start = clock.now
    for tick in 0..<200 {
        for _ in 0..<1000 {
            startBenchmarkSpan(tracer).end()
        }
        try await Task.sleep(until: start + .milliseconds(10 * (tick + 1)), clock: clock)
    }
}

/// The value of the series `name` (no labels) in `registry`'s exposition, if it is there.
func unlabelledValue(_ registry: MetricRegistry, _ name: String) -> Double? {
    let text = String(decoding: registry.render(format: .prometheusText), as: UTF8.self)
    return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.dropFirst(name.count + 1)) }
}

/// Where the end-to-end benchmark's spans go.
enum EndToEndDestination: CaseIterable {
    case inProcess, otherProcess, discardingExporter

    var benchmarkName: String {
        switch self {
        case .inProcess: "End to end over OTLP/HTTP: 200,000 spans at 100,000 spans/s (process CPU; dropped spans)"
        case .otherProcess:
            "End to end over OTLP/HTTP to an endpoint in another process: the same spans (process CPU; dropped spans)"
        case .discardingExporter: "End to end, same spans into a discarding exporter (process CPU; dropped spans)"
        }
    }
}

/// `Scripts/discard-otlp.py` running beside the benchmark: an OTLP/HTTP endpoint whose CPU time is
/// not the benchmark process's.
final class DiscardingCollectorProcess {
    let process: Process
    let port: Int

    init() throws {
        let script = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Scripts/discard-otlp.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        // The script prints its port, then serves.
        var line = Data()
        while let byte = try output.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) {
            line.append(byte)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self)) else {
            process.terminate()
            throw CocoaError(.fileReadCorruptFile)
        }
        self.process = process
        self.port = port
    }

    /// Stops the endpoint: `SIGKILL`, since a child started by Foundation can inherit `SIGTERM`
    /// blocked; not waited for, since Foundation's `waitUntilExit()` can hang inside an async
    /// benchmark on Linux.
    func stop() {
        kill(self.process.processIdentifier, SIGKILL)
    }
}
