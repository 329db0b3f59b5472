import Benchmark
import Foundation
import Kite
import KiteTelemetry
import Logging
import Tracing

/// Per-operation figures: every benchmark runs its operation `scaledIterations` times per sample,
/// and the results are reported per operation.
func perOperation() -> Benchmark.Configuration {
    .init(metrics: [.wallClock, .mallocCountTotal], scalingFactor: .mega, maxDuration: .seconds(3), maxIterations: 1_000_000)
}

/// For operations of a millisecond or so: one per sample.
func once() -> Benchmark.Configuration {
    .init(metrics: [.wallClock, .mallocCountTotal], scalingFactor: .one, maxDuration: .seconds(3), maxIterations: 10_000)
}

/// For operations of a microsecond or so: a thousand per sample.
func perCall() -> Benchmark.Configuration {
    .init(metrics: [.wallClock, .mallocCountTotal], scalingFactor: .kilo, maxDuration: .seconds(3), maxIterations: 1_000_000)
}

/// A pipeline whose sinks discard: logs to a discarding output, spans to a batch processor
/// drained by its own run loop into a discarding exporter.
func makeTelemetry(sampler: any Sampler, logLevel: Logger.Level) -> Telemetry {
    var configuration = TelemetryConfiguration(serviceName: "bench", environment: [:])
    configuration.sampler = sampler
    configuration.logLevel = logLevel
    configuration.logOutput = DiscardingLogOutput()
    configuration.scrapeListener = nil
    configuration.processMetrics = false
    configuration.tracesExporter = .custom(DiscardingExporter())
    configuration.batchSpanProcessor = .init(maxQueueSize: 1 << 16, maxExportBatchSize: 512, scheduleDelay: .milliseconds(10))
    return Telemetry(configuration: configuration)
}

/// A thread that can be waited for.
final class Thread: @unchecked Sendable {
    private let body: @Sendable () -> Void
    private let done = DispatchSemaphore(value: 0)
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    func start() {
        Foundation.Thread.detachNewThread { [self] in
            self.body()
            self.done.signal()
        }
    }
    func join() { self.done.wait() }
}

/// A UDP socket on 127.0.0.1 that receives and forgets datagrams (the StatsD benchmark's agent).
final class DatagramSink: @unchecked Sendable {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        var size: Int32 = 8 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        self.fd = fd
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// Reads every datagram waiting; returns how many there were and their payload bytes.
    @discardableResult
    func drain() -> (datagrams: Int, bytes: Int) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var datagrams = 0
        var bytes = 0
        while true {
            let received = buffer.withUnsafeMutableBytes { recv(self.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            guard received > 0 else { return (datagrams, bytes) }
            datagrams += 1
            bytes += received
        }
    }
}

/// The log call both log benchmarks make: a message and six metadata fields, the dictionary
/// built per call as a caller of swift-log builds it.
@inline(__always)
func logSixFields(_ logger: Logger) {
    logger.info(
        "done",
        metadata: [
            "endpoint": "sum", "took": "1234", "err": "nil",
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "method": "POST", "status": "200",
        ]
    )
}

/// The endpoint the endpoint benchmarks call, `{ $0 + 1 }`, hidden from the optimiser: as a
/// transport holds an endpoint (a stored function it cannot see into), so that neither it nor the
/// decorator around it (inlinable, specialised where it is used) is inlined into the benchmark's loop.
/// The benchmarks hide the decorated endpoint the same way.
func addOne() -> Endpoint<Int, Int> {
    identity(Endpoint<Int, Int> { $0 &+ 1 })
}

/// The value of the tracing floor benchmark's context: a class reference, as Kite's span context.
final class FloorContextValue: Sendable {}

/// The key of the tracing floor benchmark's context.
enum FloorContextKey: ServiceContextKey {
    typealias Value = FloorContextValue
}

/// The benchmarks' log handlers: none keeps metadata of its own.
protocol BenchmarkLogHandler: LogHandler {}

extension BenchmarkLogHandler {
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }
}

/// A log handler that receives each event and does nothing with it: what swift-log's API itself costs.
struct NoOpLogHandler: BenchmarkLogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info
    func log(event: LogEvent) { blackHole(event.metadata?.count) }
}

/// The least a logfmt handler behind swift-log's API can do with a line: each metadata entry's
/// key and value (strings) copied after a space and around an `=` into a buffer on the stack —
/// no timestamp, level, message, quoting test or sink. A bound, not a handler anyone would use.
struct CopyingLogHandler: BenchmarkLogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info
    func log(event: LogEvent) {
        guard let metadata = event.metadata else { return }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1024) { line in
            guard let start = line.baseAddress else { return }
            var count = 0
            // Whatever the strings' lengths, a separator always has room: each copy stops two short.
            let limit = line.count &- 2
            for (key, value) in metadata where count < limit {
                start[count] = UInt8(ascii: " ")
                count &+= 1
                Self.append(key, to: start, at: &count, limit: limit)
                start[count] = UInt8(ascii: "=")
                count &+= 1
                if case .string(let string) = value { Self.append(string, to: start, at: &count, limit: limit) }
            }
            blackHole(count)
        }
    }

    @inline(__always)
    private static func append(_ string: String, to start: UnsafeMutablePointer<UInt8>, at count: inout Int, limit: Int) {
        var string = string
        string.withUTF8 { bytes in
            let copied = max(min(bytes.count, limit &- count), 0)
            if let source = bytes.baseAddress, copied > 0 { (start + count).update(from: source, count: copied) }
            count &+= copied
        }
    }
}

/// A span processor that forgets every record it is handed.
final class DroppingProcessor: SpanProcessor {
    func onEnd(_ span: consuming SpanRecord) {}
    func forceFlush() async {}
}

/// A span processor that keeps every record it is handed.
final class CollectingProcessor: SpanProcessor, @unchecked Sendable {
    // @unchecked: filled by one thread, then read by it (the benchmarks' set-up).
    var records: [SpanRecord] = []
    func onEnd(_ span: consuming SpanRecord) { self.records.append(span) }
    func forceFlush() async {}
}

struct DiscardingExporter: SpanExporter {
    func export(_ batch: [SpanRecord]) async throws {}
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = perOperation()

    // One pipeline of each kind for the whole run, their span processors draining in the background.
    let sampled = makeTelemetry(sampler: ConstantSampler.alwaysOn, logLevel: .info)
    let unsampled = makeTelemetry(sampler: ConstantSampler.alwaysOff, logLevel: .warning)
    Task { try await sampled.run() }
    Task { try await unsampled.run() }
    let sink = LogSink(output: DiscardingLogOutput())

    // MARK: Metrics

    Benchmark("Counter increment (pre-resolved)") { benchmark in
        let counter = MetricRegistry().counter("c_total", help: "h").labels()
        for _ in benchmark.scaledIterations { counter.increment() }
        blackHole(counter.value)
    }

    Benchmark("Counter label lookup + increment (2 labels)") { benchmark in
        let family = MetricRegistry().counter("c_total", help: "h", labelNames: ["endpoint", "outcome"])
        family.labels("sum", "ok").increment()
        for _ in benchmark.scaledIterations { family.labels("sum", "ok").increment() }
    }

    Benchmark("Histogram observe") { benchmark in
        let histogram = MetricRegistry().histogram("h", help: "h").labels()
        for _ in benchmark.scaledIterations { histogram.observe(0.0123) }
        blackHole(histogram.snapshot.count)
    }

    Benchmark("Histogram observe, 2 threads contending (wall time / total observations)") { benchmark in
        let histogram = MetricRegistry().histogram("h", help: "h").labels()
        let perThread = benchmark.scaledIterations.count / 2
        let other = Thread { for _ in 0..<perThread { histogram.observe(0.0123) } }
        benchmark.startMeasurement()
        other.start()
        for _ in 0..<perThread { histogram.observe(0.0123) }
        other.join()
        benchmark.stopMeasurement()
        blackHole(histogram.snapshot.count)
    }

    Benchmark("Histogram observe for a sampled span (keeps an exemplar; the decorator's and transports' call)") { benchmark in
        let histogram = MetricRegistry().histogram("h", help: "h").labels()
        let span = sampled.tracer.startSpan("observing")
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { histogram.observe(0.0123, for: span) }
        benchmark.stopMeasurement()
        span.end()
        blackHole(histogram.snapshot.exemplars.count)
    }

    Benchmark("Histogram observe for sampled spans, 2 threads contending (wall time / total observations)") { benchmark in
        let histogram = MetricRegistry().histogram("h", help: "h").labels()
        let perThread = benchmark.scaledIterations.count / 2
        let spans = (sampled.tracer.startSpan("a"), sampled.tracer.startSpan("b"))
        let other = Thread { for _ in 0..<perThread { histogram.observe(0.0123, for: spans.1) } }
        benchmark.startMeasurement()
        other.start()
        for _ in 0..<perThread { histogram.observe(0.0123, for: spans.0) }
        other.join()
        benchmark.stopMeasurement()
        spans.0.end()
        spans.1.end()
        blackHole(histogram.snapshot.exemplars.count)
    }

    Benchmark("Histogram observe inside a sampled span (keeps an exemplar; the span found in the task-local context)") { benchmark in
        let histogram = MetricRegistry().histogram("h", help: "h").labels()
        sampled.tracer.withSpan("observing") { _ in
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations { histogram.observe(0.0123) }
            benchmark.stopMeasurement()
        }
        blackHole(histogram.snapshot.exemplars.count)
    }

    Benchmark("Gauge set") { benchmark in
        let gauge = MetricRegistry().gauge("g", help: "h").labels()
        var value = 0.0
        for _ in benchmark.scaledIterations {
            value += 1
            gauge.set(value)
        }
    }

    // Built once, like the Go anchor's registry: the benchmark measures rendering, not setting up.
    let tenThousandSeries = MetricRegistry()
    let family = tenThousandSeries.counter("c_total", help: "h", labelNames: ["a", "b"])
    for index in 0..<10_000 { family.labels("x\(index % 100)", "y\(index)").increment(by: index) }

    Benchmark("Render 10,000 series (text format)", configuration: once()) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(tenThousandSeries.render(format: .prometheusText)) }
    }

    // MARK: StatsD

    let statsdAgent = try! DatagramSink()
    let statsdRegistry = MetricRegistry()
    let statsdFamily = statsdRegistry.counter("requests", help: "h", labelNames: ["route", "status"])
    let statsdSeries = (0..<1_000).map { statsdFamily.labels("/route/\($0 % 100)", "\(200 + $0 / 100)") }
    let statsd = StatsDExporter(
        configuration: .init(host: "127.0.0.1", port: statsdAgent.port),
        registry: statsdRegistry,
        logger: Logger(label: "bench")
    )

    Benchmark(
        "StatsD flush: 1,000 changed counter series, encoded, packed and sent (and payload bytes per datagram)",
        configuration: .init(
            metrics: [.wallClock, .mallocCountTotal, .custom("bytes per datagram", polarity: .prefersLarger, useScalingFactor: false)],
            scalingFactor: .one,
            maxDuration: .seconds(3),
            maxIterations: 10_000
        )
    ) { benchmark in
        for series in statsdSeries { series.increment() }
        benchmark.startMeasurement()
        await statsd.flush()
        benchmark.stopMeasurement()
        let (datagrams, bytes) = statsdAgent.drain()
        if datagrams > 0 { benchmark.measurement(.custom("bytes per datagram"), bytes / datagrams) }
    }

    // MARK: Logging

    Benchmark("logfmt line, 6 fields, into the non-blocking sink (caller's side)", configuration: perCall()) { benchmark in
        let logger = Logger(label: "bench") { KiteLogHandler(label: $0, sink: sink, traceCorrelation: false) }
        for _ in benchmark.scaledIterations {
            logSixFields(logger)
        }
        benchmark.stopMeasurement()
        sink.flush()  // so that the next sample starts with an empty buffer (nothing dropped)
    }

    Benchmark("logfmt line, 6 fields, into the non-blocking sink through a LogStatement (no metadata dictionary)", configuration: perCall()) { benchmark in
        let logger = Logger(label: "bench") { KiteLogHandler(label: $0, sink: sink, traceCorrelation: false) }
        let done = LogStatement(logger, .info, "done", keys: "endpoint", "took", "err", "trace_id", "method", "status")
        for _ in benchmark.scaledIterations {
            done.log("sum", "1234", "nil", "4bf92f3577b34da6a3ce929d0e0e4736", "POST", "200")
        }
        benchmark.stopMeasurement()
        sink.flush()
    }

    Benchmark("swift-log call with 6 fields into a handler that does nothing (the API's floor)", configuration: perCall()) { benchmark in
        let logger = Logger(label: "bench") { _ in NoOpLogHandler() }
        for _ in benchmark.scaledIterations {
            logSixFields(logger)
        }
    }

    Benchmark("swift-log call with 6 fields into a handler that only copies their keys and values (no quoting, no timestamp, no sink)", configuration: perCall()) { benchmark in
        let logger = Logger(label: "bench") { _ in CopyingLogHandler() }
        for _ in benchmark.scaledIterations {
            logSixFields(logger)
        }
    }

    Benchmark("logfmt line, 6 fields: the handler's part alone (the same event, built once, handed to log(event:))", configuration: perCall()) { benchmark in
        let handler = KiteLogHandler(label: "bench", sink: sink, traceCorrelation: false)
        let event = LogEvent(
            level: .info,
            message: "done",
            metadata: [
                "endpoint": "sum", "took": "1234", "err": "nil",
                "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "method": "POST", "status": "200",
            ],
            source: nil,
            file: #fileID,
            function: #function,
            line: #line
        )
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            handler.log(event: event)
        }
        benchmark.stopMeasurement()
        sink.flush()
    }

    // What any handler pays to read the line's metadata, before encoding any of it.
    let sixFields: Logger.Metadata = [
        "endpoint": "sum", "took": "1234", "err": "nil",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "method": "POST", "status": "200",
    ]

    Benchmark("swift-log metadata of that line: its 6 entries read with for-in (each key's and value's length)", configuration: perCall()) { benchmark in
        let metadata = identity(sixFields)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            var total = 0
            for (key, value) in metadata {
                total &+= key.utf8.count
                if case .string(let string) = value { total &+= string.utf8.count }
            }
            blackHole(total)
        }
    }

    Benchmark("swift-log metadata of that line: its 6 entries read by index (each key's and value's length)", configuration: perCall()) { benchmark in
        let metadata = identity(sixFields)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            var total = 0
            var index = metadata.startIndex
            while index != metadata.endIndex {
                total &+= metadata.keys[index].utf8.count
                if case .string(let string) = metadata.values[index] { total &+= string.utf8.count }
                metadata.formIndex(after: &index)
            }
            blackHole(total)
        }
    }

    // MARK: Tracing

    Benchmark("Span start + end, 5 attributes, sampled, into the batch queue", configuration: perCall()) { benchmark in
        let tracer = sampled.tracer
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let span = tracer.startSpan("operation", context: .topLevel)
            span.attributes["http.request.method"] = "POST"
            span.attributes["http.route"] = "/sum"
            span.attributes["http.response.status_code"] = 200
            span.attributes["server.port"] = 8080
            span.attributes["retry"] = false
            span.end()
        }
    }

    Benchmark(
        "Span start + end, 5 attributes by setAttribute, sampled, into the batch queue",
        // The process's CPU besides the caller's time: the batch processor's loop takes the
        // records on another thread, and which thread frees them moves cost between the two.
        configuration: .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal], scalingFactor: .kilo, maxDuration: .seconds(3), maxIterations: 1_000_000)
    ) { benchmark in
        let tracer = sampled.tracer
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            spanWithFiveAttributes(tracer)
        }
    }

    Benchmark("Span start + end, 5 attributes by setAttribute, into a processor that drops records", configuration: perCall()) { benchmark in
        // The span's own cost, without the batch queue and the exporting thread.
        let tracer = KiteTracer(processor: DroppingProcessor())
        for _ in benchmark.scaledIterations {
            spanWithFiveAttributes(tracer)
        }
    }

    Benchmark("Span start + end, 8 attributes and 1 event (the end-to-end benchmark's span), into a processor that drops records", configuration: perCall()) { benchmark in
        // What the end-to-end benchmark's producer pays per span before the queue and encoding.
        let tracer = KiteTracer(processor: DroppingProcessor())
        for _ in benchmark.scaledIterations {
            startBenchmarkSpan(tracer).end()
        }
    }

    Benchmark("SpanAttributes: the same 5 attributes set into the dictionary alone (the protocol API's floor)", configuration: perCall()) { benchmark in
        for _ in benchmark.scaledIterations {
            var attributes = SpanAttributes()
            attributes.reserveCapacity(8)
            attributes["http.request.method"] = "POST"
            attributes["http.route"] = "/sum"
            attributes["http.response.status_code"] = 200
            attributes["server.port"] = 8080
            attributes["retry"] = false
            blackHole(attributes)
        }
    }

    Benchmark("Span start + end, unsampled root", configuration: perCall()) { benchmark in
        let tracer = unsampled.tracer
        for _ in benchmark.scaledIterations {
            let span = tracer.startSpan("operation", context: .topLevel)
            span.end()
        }
    }

    Benchmark("Span start + end, inside an unsampled server span", configuration: perCall()) { benchmark in
        let tracer = unsampled.tracer
        let server = tracer.startSpan("POST /sum", context: .topLevel, ofKind: .server)
        let context = server.context
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let span = tracer.startSpan("operation", context: context)
            span.end()
        }
    }

    // MARK: Endpoints

    Benchmark("Endpoint call, bare", configuration: perCall()) { benchmark in
        let endpoint = addOne()
        for index in benchmark.scaledIterations { blackHole(try await endpoint(index)) }
    }

    Benchmark(
        "Endpoint call, instrumented: sampled span + logfmt line to a discarding sink",
        // The process's CPU besides the caller's time: the sink's writer encodes the line, and
        // the batch processor's loop exports the span, on other threads.
        configuration: .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal], scalingFactor: .kilo, maxDuration: .seconds(3), maxIterations: 1_000_000)
    ) { benchmark in
        let endpoint = identity(addOne().instrumented("sum", sampled))
        benchmark.startMeasurement()
        for index in benchmark.scaledIterations { blackHole(try await endpoint(index)) }
    }

    Benchmark("Endpoint call, instrumented: trace not sampled, log line suppressed by level", configuration: perCall()) { benchmark in
        let endpoint = identity(addOne().instrumented("sum", unsampled))
        for index in benchmark.scaledIterations { blackHole(try await endpoint(index)) }
    }

    Benchmark(
        "ServiceContext: a context with one value built and made current for one endpoint call (the tracing API's floor)",
        configuration: perCall()
    ) { benchmark in
        // What any instrumentation that makes its span current pays through swift-distributed-tracing's
        // API alone: a `ServiceContext` holding one class reference, pushed as the task-local for the call.
        let endpoint = addOne()
        let value = FloorContextValue()
        for index in benchmark.scaledIterations {
            var context = ServiceContext.topLevel
            context[FloorContextKey.self] = value
            blackHole(try await ServiceContext.$current.withValue(context) { try await endpoint(index) })
        }
    }

    Benchmark(
        "Endpoint call, instrumented: inside an unsampled server span (as a transport calls it), log line suppressed",
        configuration: perCall()
    ) { benchmark in
        let endpoint = identity(addOne().instrumented("sum", unsampled))
        let server = unsampled.tracer.startSpan("POST /sum", context: .topLevel, ofKind: .server)
        try await ServiceContext.$current.withValue(server.context) {
            benchmark.startMeasurement()
            for index in benchmark.scaledIterations { blackHole(try await endpoint(index)) }
            benchmark.stopMeasurement()
        }
    }

    // MARK: OTLP

    otlpBenchmarks()
    httpClientBenchmarks()
    resilienceBenchmarks()
    transportBenchmarks()
    httpRouteBenchmarks()
    machineBenchmarks()
    consoleSpanBenchmarks()
}

/// Starts a span, sets five attributes with `setAttribute` (as Kite's instrumentation does) and
/// ends it: the body of the span benchmarks that compare where the record goes.
@inline(__always)
func spanWithFiveAttributes(_ tracer: KiteTracer) {
    let span = tracer.startSpan("operation", context: .topLevel)
    span.setAttribute("http.request.method", "POST")
    span.setAttribute("http.route", "/sum")
    span.setAttribute("http.response.status_code", 200)
    span.setAttribute("server.port", 8080)
    span.setAttribute("retry", false)
    span.end()
}
