import CoreMetrics
import KiteTelemetry
import Logging
import Testing

@Suite("Metric registry")
struct MetricRegistryTests {
    @Test("concurrent increments from many tasks lose no count")
    func concurrentIncrementsAreExact() async {
        let registry = MetricRegistry()
        let family = registry.counter("jobs_total", help: "Jobs.", labelNames: ["queue"])
        let resolved = family.labels("a")
        let histogram = registry.histogram("latency_seconds", help: "Latency.").labels()
        let gauge = registry.gauge("level", help: "Level.").labels()
        let tasks = 16
        let perTask = 20_000
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<tasks {
                group.addTask {
                    for index in 0..<perTask {
                        resolved.increment()
                        family.labels(task.isMultiple(of: 2) ? "b" : "c").increment(by: 2)
                        histogram.observe(Double(index % 7) * 0.01)
                        // +3 and −1 alternately: a lost update of either kind changes the total.
                        gauge.add(index.isMultiple(of: 2) ? 3 : -1)
                    }
                }
            }
        }
        #expect(resolved.value == Double(tasks * perTask))
        #expect(family.labels("b").value + family.labels("c").value == Double(tasks * perTask * 2))
        #expect(histogram.snapshot.count == UInt64(tasks * perTask))
        #expect(gauge.value == Double(tasks * perTask))
    }

    @Test("the series past the cap is refused, counted and not exported, and memory stays flat")
    func cardinalityCap() {
        let registry = MetricRegistry()
        let family = registry.counter("requests_total", help: "Requests.", labelNames: ["user"])
        for index in 0..<10_000 {
            family.labels("user-\(index)").increment()
        }
        #expect(family.seriesCount == 10_000)
        let renderedAtCap = registry.render(format: .prometheusText).count

        let refused = family.labels("user-10000")
        refused.increment()
        #expect(family.seriesCount == 10_000)
        let refusals = registry.counter(
            "kite_metric_series_refused_total",
            help: "",
            labelNames: ["metric", "reason"]
        ).labels("requests_total", "cardinality")
        #expect(refusals.value == 1)

        for index in 10_001..<15_000 {
            let series = family.labels("user-\(index)")
            #expect(series === refused, "refused label sets share one detached series")
            series.increment()
        }
        #expect(family.seriesCount == 10_000)
        #expect(refusals.value == 5_000)
        let text = String(decoding: registry.render(format: .prometheusText), as: UTF8.self)
        #expect(!text.contains("user-10000"))
        #expect(text.contains(#"kite_metric_series_refused_total{metric="requests_total",reason="cardinality"} 5000"#))
        // The exposition grew only by the refusal counter's line, not by the refused series.
        #expect(registry.render(format: .prometheusText).count - renderedAtCap < 300)
        // Existing series keep working at the cap.
        family.labels("user-5").increment()
        #expect(family.labels("user-5").value == 2)
    }

    @Test("a refusal is logged once per metric and reason")
    func refusalLoggedOnce() {
        let output = InMemoryLogOutput()
        let sink = LogSink(output: output)
        let logger = Logger(label: "kite.metrics") { KiteLogHandler(label: $0, sink: sink) }
        let registry = MetricRegistry(configuration: .init(maxSeriesPerMetric: 2), logger: logger)
        let family = registry.counter("capped_total", help: "", labelNames: ["k"])
        for value in ["a", "b", "c", "d", "e"] { family.labels(value).increment() }
        family.labels("x", "y").increment()
        sink.flush()
        let lines = output.lines
        #expect(lines.filter { $0.contains("series limit") && $0.contains("metric=capped_total") }.count == 1)
        #expect(lines.filter { $0.contains("number of label values") }.count == 1)
        #expect(lines.allSatisfy { $0.contains("level=error") })
    }

    @Test("a cap of 1 never makes a refusal refuse again, and the refusal counter stays bounded past 1,000 refused metrics")
    func refusalsAreBounded() {
        let output = InMemoryLogOutput()
        let sink = LogSink(output: output)
        let logger = Logger(label: "kite.metrics") { KiteLogHandler(label: $0, sink: sink) }
        let registry = MetricRegistry(configuration: .init(maxSeriesPerMetric: 1), logger: logger)
        // 1,100 metrics, each refusing its second series.
        for index in 0..<1100 {
            let family = registry.counter("m\(index)", help: "", labelNames: ["k"])
            family.labels("first").increment()
            family.labels("second").increment()
        }
        sink.flush()
        let text = String(decoding: registry.render(format: .prometheusText), as: UTF8.self)
        let refusals = text.split(separator: "\n").filter { $0.hasPrefix("kite_metric_series_refused_total{") }
        #expect(refusals.count == 1001, "1,000 metrics one by one, the rest together")
        #expect(refusals.contains(#"kite_metric_series_refused_total{metric="m0_total",reason="cardinality"} 1"#))
        #expect(refusals.contains(#"kite_metric_series_refused_total{metric="_other",reason="cardinality"} 100"#))
        #expect(registry.seriesCount(of: "kite_metric_series_refused_total") == 1001)
        #expect(output.lines.filter { $0.contains("series limit") }.count == 1000)
        #expect(output.lines.filter { $0.contains("counted under metric=_other") }.count == 1)
        sink.shutdown()
    }

    @Test("a configurable cap")
    func configurableCap() {
        let registry = MetricRegistry(configuration: .init(maxSeriesPerMetric: 3))
        let family = registry.gauge("g", help: "", labelNames: ["k"])
        for value in ["a", "b", "c", "d", "e"] { family.labels(value).set(1) }
        #expect(family.seriesCount == 3)
    }

    @Test("re-registering returns the same family; a conflicting type is detached and counted")
    func registrationConflicts() {
        let registry = MetricRegistry()
        let first = registry.counter("things_total", help: "Things.", labelNames: ["kind"])
        let again = registry.counter("things_total", help: "Things.", labelNames: ["kind"])
        #expect(first === again)
        first.labels("x").increment()

        let conflicting = registry.gauge("things_total", help: "Not a counter.")
        conflicting.labels().set(42)
        let text = String(decoding: registry.render(format: .prometheusText), as: UTF8.self)
        #expect(!text.contains("things_total 42"))
        #expect(text.contains(#"kite_metric_series_refused_total{metric="things_total",reason="conflict"} 1"#))
    }

    @Test("a wrong number of label values is refused and counted")
    func labelCountMismatch() {
        let registry = MetricRegistry()
        let family = registry.counter("pairs_total", help: "", labelNames: ["a", "b"])
        family.labels("only-one").increment()
        #expect(family.seriesCount == 0)
        let text = String(decoding: registry.render(format: .prometheusText), as: UTF8.self)
        #expect(text.contains(#"kite_metric_series_refused_total{metric="pairs_total",reason="label_count"} 1"#))
    }

    @Test("histogram buckets are cumulative and end in +Inf")
    func histogramBuckets() {
        let registry = MetricRegistry()
        let histogram = registry.histogram("size_bytes", help: "Sizes.", buckets: HistogramBuckets([10, 100, 1000])).labels()
        for value in [1.0, 10, 11, 500, 5000, .nan] { histogram.observe(value) }
        let text = String(decoding: registry.render(format: .prometheusText), as: UTF8.self)
        #expect(text.contains("size_bytes_bucket{le=\"10\"} 2\n"))
        #expect(text.contains("size_bytes_bucket{le=\"100\"} 3\n"))
        #expect(text.contains("size_bytes_bucket{le=\"1000\"} 4\n"))
        #expect(text.contains("size_bytes_bucket{le=\"+Inf\"} 5\n"))
        #expect(text.contains("size_bytes_sum 5522\n"))
        #expect(text.contains("size_bytes_count 5\n"))
    }

    @Test("default buckets are in seconds, 5 ms to 10 s")
    func defaultBuckets() {
        #expect(HistogramBuckets.defaultSeconds.upperBounds.first == 0.005)
        #expect(HistogramBuckets.defaultSeconds.upperBounds.last == 10)
        #expect(HistogramBuckets.exponential(start: 1, factor: 2, count: 4).upperBounds == [1, 2, 4, 8])
        #expect(HistogramBuckets.linear(start: 0, width: 5, count: 3).upperBounds == [0, 5, 10])
    }

    @Test("swift-metrics through the factory: every handler type, explicit injection, destroy")
    func swiftMetricsFactory() throws {
        let registry = MetricRegistry()
        let factory = KiteMetricsFactory(registry: registry)
        let counter = CoreMetrics.Counter(label: "hb.requests", dimensions: [("method", "GET")], factory: factory)
        counter.increment(by: 3)
        let floating = FloatingPointCounter(label: "bytes.sent", factory: factory)
        floating.increment(by: 1.5)
        let meter = Meter(label: "connections", factory: factory)
        meter.set(7)
        meter.increment(by: 2)
        let recorder = Recorder(label: "payload", aggregate: true, factory: factory)
        recorder.record(0.2)
        let lastValue = Recorder(label: "temperature", aggregate: false, factory: factory)
        lastValue.record(21.5)
        let timer = CoreMetrics.Timer(label: "db.query", dimensions: [("table", "users")], factory: factory)
        timer.recordNanoseconds(250_000_000)

        var text = String(decoding: registry.render(format: .prometheusText), as: UTF8.self)
        #expect(text.contains(#"hb_requests_total{method="GET"} 3"#))
        #expect(text.contains("bytes_sent_total 1.5\n"))
        #expect(text.contains("connections 9\n"))
        #expect(text.contains("payload_count 1\n"))
        #expect(text.contains("temperature 21.5\n"))
        #expect(text.contains(#"db_query_seconds_bucket{table="users",le="0.25"} 1"#))
        #expect(text.contains(#"db_query_seconds_sum{table="users"} 0.25"#))
        #expect(text.contains("# HELP hb_requests_total hb.requests (recorded through swift-metrics)\n"))

        counter.destroy()
        text = String(decoding: registry.render(format: .prometheusText), as: UTF8.self)
        #expect(!text.contains("hb_requests_total{"))
    }
}
