import KiteTelemetry
import Logging

/// A ``Telemetry`` for unit tests: its spans, log records and metrics kept in memory, to be
/// asserted on directly.
///
/// ```swift
/// let test = TestTelemetry()
/// let sum = Endpoint { (r: SumRequest) in SumResponse(v: r.a + r.b) }.instrumented("sum", test.telemetry)
/// _ = try await sum(SumRequest(a: 1, b: 2))
/// #expect(test.span(named: "sum")?.status == nil)
/// #expect(test.logs(containing: "endpoint call").first?.metadata["outcome"] == "success")
/// #expect(test.counter("kite_endpoint_requests_total", ["endpoint": "sum", "outcome": "success"]) == 1)
/// await test.shutdown()
/// ```
///
/// Spans arrive as they end (every span is sampled unless `OTEL_TRACES_SAMPLER` in `environment`
/// says otherwise), log records as they are logged — at every level, trace and span IDs
/// included — and metrics are read from the registry when asked. Nothing global is touched: no
/// `LoggingSystem`, `MetricsSystem` or `InstrumentationSystem` bootstrap, no scrape listener, no
/// exporter, no process metrics; no log line is written. ``shutdown()`` stops the one thread the
/// pipeline has (its log sink's writer). Works from Swift Testing and XCTest alike.
public final class TestTelemetry: Sendable {
    /// The pipeline to hand to the code under test.
    public let telemetry: Telemetry
    private let spanRecorder: SpanRecorder
    private let logRecorder: LogRecorder

    /// Creates a pipeline named `serviceName`, configured from `environment` (the `OTEL_*` and
    /// `KITE_*` variables; this process's are not read).
    public init(serviceName: String = "test", environment: [String: String] = [:]) {
        let spans = SpanRecorder()
        let logs = LogRecorder()
        self.spanRecorder = spans
        self.logRecorder = logs
        var configuration = TelemetryConfiguration(serviceName: serviceName, environment: environment)
        configuration.tracesExporter = .processor(spans)
        configuration.logRecordProcessor = logs
        configuration.logLevel = .trace
        configuration.logLines = false
        configuration.logOutput = DiscardingLogOutput()
        configuration.scrapeListener = nil
        configuration.statsd = nil
        configuration.otlpMetrics = false
        configuration.otlpLogs = false
        configuration.processMetrics = false
        self.telemetry = Telemetry(configuration: configuration)
    }

    /// The pipeline's logger.
    public var logger: Logger { self.telemetry.logger }

    // MARK: Spans

    /// Every span ended so far, in the order they ended.
    public var spans: [SpanRecord] { self.spanRecorder.all }

    /// The spans called `name`.
    public func spans(named name: String) -> [SpanRecord] { self.spans.filter { $0.name == name } }

    /// The last span called `name` to end.
    public func span(named name: String) -> SpanRecord? { self.spans.last { $0.name == name } }

    /// The spans whose parent is `span`.
    public func children(of span: SpanRecord) -> [SpanRecord] {
        self.spans.filter { $0.context.parentSpanID == span.context.spanID && $0.context.traceID == span.context.traceID }
    }

    /// The span `span` is a child of, if it ended here.
    public func parent(of span: SpanRecord) -> SpanRecord? {
        guard let parentID = span.context.parentSpanID else { return nil }
        return self.spans.first { $0.context.spanID == parentID && $0.context.traceID == span.context.traceID }
    }

    // MARK: Logs

    /// Every record logged so far, in order.
    public var logs: [LogRecord] { self.logRecorder.all }

    /// The records at `level`.
    public func logs(at level: Logger.Level) -> [LogRecord] { self.logs.filter { $0.level == level } }

    /// The records whose message contains `text`.
    public func logs(containing text: String) -> [LogRecord] { self.logs.filter { $0.message.contains(text) } }

    /// The records logged inside `span` (its trace and span IDs on them).
    public func logs(in span: SpanRecord) -> [LogRecord] {
        self.logs.filter { $0.spanContext?.spanID == span.context.spanID && $0.spanContext?.traceID == span.context.traceID }
    }

    // MARK: Metrics

    /// The total of the counter `name` (`_total` may be left off) over its series whose labels
    /// include `labels`; 0 when there is none.
    public func counter(_ name: String, _ labels: [String: String] = [:]) -> Double {
        self.samples(named: name.hasSuffix("_total") ? name : name + "_total", labels).reduce(0) { total, sample in
            if case .counter(let value) = sample.value { total + value } else { total }
        }
    }

    /// The value of the gauge `name`'s series whose labels include `labels` (the first, when
    /// several do); `nil` when there is none.
    public func gauge(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        for sample in self.samples(named: name, labels) {
            if case .gauge(let value) = sample.value { return value }
        }
        return nil
    }

    /// The histogram `name`'s series whose labels include `labels`, merged (counts and sums
    /// added, exemplars gathered); `nil` when there is none.
    public func histogram(_ name: String, _ labels: [String: String] = [:]) -> Histogram.Snapshot? {
        var merged: Histogram.Snapshot?
        for sample in self.samples(named: name, labels) {
            guard case .histogram(let snapshot) = sample.value else { continue }
            guard var total = merged else {
                merged = snapshot
                continue
            }
            guard total.upperBounds == snapshot.upperBounds else { continue }
            total.bucketCounts = zip(total.bucketCounts, snapshot.bucketCounts).map { $0 &+ $1 }
            total.sum += snapshot.sum
            total.exemplars += snapshot.exemplars
            merged = total
        }
        return merged
    }

    private func samples(named name: String, _ labels: [String: String]) -> [MetricSample] {
        self.telemetry.registry.collect().filter { sample in
            guard sample.name == name else { return false }
            let series = Dictionary(zip(sample.labels.names, sample.labels.values)) { first, _ in first }
            return labels.allSatisfy { series[$0.key] == $0.value }
        }
    }

    // MARK: Lifecycle

    /// Forgets the spans and log records so far. Metrics are cumulative and stay: compare
    /// values before and after.
    public func reset() {
        self.spanRecorder.reset()
        self.logRecorder.reset()
    }

    /// Stops the pipeline's thread. Call it at the end of the test.
    public func shutdown() async {
        await self.telemetry.shutdown()
    }
}
