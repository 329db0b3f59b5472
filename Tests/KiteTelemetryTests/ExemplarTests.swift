import Foundation
import KiteTelemetry
import KiteTestSupport
import Testing
import Tracing
import W3CTraceContext

/// Histogram exemplars: which observations leave one, where they show, and that concurrent
/// observers never tear one.
@Suite("Exemplars")
struct ExemplarTests {
    /// A pipeline with an `exemplar_seconds` histogram (buckets 0.1, 1) under `environment`.
    static func histogram(_ environment: [String: String] = [:]) -> (MemoryPipeline, Histogram) {
        let pipeline = MemoryPipeline(serviceName: "exemplars", environment: environment)
        let histogram = pipeline.telemetry.registry
            .histogram("exemplar_seconds", help: "Latency.", labelNames: ["route"], buckets: HistogramBuckets([0.1, 1]))
            .labels("/a")
        return (pipeline, histogram)
    }

    static func openMetrics(_ pipeline: MemoryPipeline) -> [Substring] {
        String(decoding: pipeline.telemetry.registry.render(format: .openMetrics), as: UTF8.self).split(separator: "\n")
    }

    /// Runs `body` in a span of `pipeline`'s tracer; the span's trace and span IDs in hex.
    static func inSpan(_ pipeline: MemoryPipeline, _ body: () -> Void) -> (trace: String, span: String) {
        pipeline.telemetry.tracer.withSpan("observing") { span in
            body()
            let context = span.context.spanContext
            return (context?.traceID.description ?? "", context?.spanID.description ?? "")
        }
    }

    @Test("an observation in a sampled span is its bucket's exemplar in OpenMetrics — trace, span, value, time — and never in the 0.0.4 text format")
    func openMetricsExemplar() throws {
        let (pipeline, histogram) = Self.histogram()
        let before = Date().timeIntervalSince1970
        let ids = Self.inSpan(pipeline) { histogram.observe(0.05) }
        histogram.observe(0.5)  // outside any span
        let lines = Self.openMetrics(pipeline)
        let first = try #require(lines.first { $0.hasPrefix(#"exemplar_seconds_bucket{route="/a",le="0.1"}"#) })
        let prefix = #"exemplar_seconds_bucket{route="/a",le="0.1"} 1 # {trace_id=""# + ids.trace + #"",span_id=""# + ids.span + #""} 0.05 "#
        #expect(first.hasPrefix(prefix), "\(first)")
        let time = try #require(Double(first.dropFirst(prefix.count)))
        #expect(time >= before - 0.02 && time <= Date().timeIntervalSince1970)
        #expect(lines.contains(#"exemplar_seconds_bucket{route="/a",le="1.0"} 2"#))
        #expect(lines.contains(#"exemplar_seconds_bucket{route="/a",le="+Inf"} 2"#))
        #expect(!pipeline.exposition.contains("#" + " {"), "\(pipeline.exposition)")
        #expect(histogram.snapshot.exemplars.map(\.value) == [0.05])
    }

    @Test("each bucket keeps its own exemplar; a later observation replaces it once the clock has ticked")
    func lastPerBucket() async throws {
        let (pipeline, histogram) = Self.histogram()
        let first = Self.inSpan(pipeline) { histogram.observe(0.01) }
        let slow = Self.inSpan(pipeline) { histogram.observe(7) }
        #expect(histogram.snapshot.exemplars.map(\.value) == [0.01, 7])
        #expect(histogram.snapshot.exemplars.map { $0.spanID?.description } == [first.span, slow.span])
        let lines = Self.openMetrics(pipeline)
        #expect(lines.contains { $0.hasPrefix(#"exemplar_seconds_bucket{route="/a",le="+Inf"} 2 # {trace_id=""# + slow.trace) })
        #expect(lines.contains(#"exemplar_seconds_bucket{route="/a",le="1.0"} 1"#))
        // At most one new exemplar per bucket per tick of the coarse clock (1–4 ms): a later call
        // takes the bucket over as soon as the tick has passed.
        var latest = first
        try await waitUntil(timeout: .seconds(5), "a later observation to become the bucket's exemplar") {
            latest = Self.inSpan(pipeline) { histogram.observe(0.02) }
            return histogram.snapshot.exemplars.first?.spanID?.description == latest.span
        }
        #expect(histogram.snapshot.exemplars.first?.value == 0.02)
        #expect(histogram.snapshot.exemplars.count == 2)
    }

    @Test("no exemplar from an unsampled span, nor with always_off; always_on keeps one without a trace; a bad filter is a warning")
    func filters() async throws {
        let (unsampled, histogram) = Self.histogram(["OTEL_TRACES_SAMPLER": "always_off"])
        _ = Self.inSpan(unsampled) { histogram.observe(0.05) }
        #expect(histogram.snapshot.exemplars.isEmpty)

        let (off, offHistogram) = Self.histogram(["OTEL_METRICS_EXEMPLAR_FILTER": "always_off"])
        _ = Self.inSpan(off) { offHistogram.observe(0.05) }
        #expect(offHistogram.snapshot.exemplars.isEmpty)
        #expect(!Self.openMetrics(off).contains { $0.contains(" # {") })

        let (on, onHistogram) = Self.histogram(["OTEL_METRICS_EXEMPLAR_FILTER": "always_on"])
        onHistogram.observe(0.05)
        let kept = try #require(onHistogram.snapshot.exemplars.first)
        #expect(kept.traceID == nil && kept.spanID == nil && kept.value == 0.05)
        #expect(Self.openMetrics(on).contains { $0.hasPrefix(#"exemplar_seconds_bucket{route="/a",le="0.1"} 1 # {} 0.05 "#) })
        try await waitUntil(timeout: .seconds(5), "an observation in a span to take the bucket over") {
            let traced = Self.inSpan(on) { onHistogram.observe(0.06) }
            return onHistogram.snapshot.exemplars.first?.traceID?.description == traced.trace
        }

        let configuration = TelemetryConfiguration(serviceName: "x", environment: ["OTEL_METRICS_EXEMPLAR_FILTER": "sometimes"])
        #expect(configuration.metrics.exemplarFilter == .traceBased)
        #expect(configuration.warnings.contains { $0.contains("OTEL_METRICS_EXEMPLAR_FILTER=sometimes") })
        #expect(TelemetryConfiguration(serviceName: "x", environment: ["OTEL_METRICS_EXEMPLAR_FILTER": "ALWAYS_ON"]).metrics.exemplarFilter == .alwaysOn)
    }

    @Test("four observers in their own spans and a reader at once: every exemplar read is whole — its value is the one its span observed")
    func noTornExemplars() async throws {
        let (pipeline, histogram) = Self.histogram()
        /// The value a span observes: a function of its span ID, so that a mix of two writes shows.
        @Sendable func value(of spanID: String) -> Double { Double(UInt64(spanID.suffix(6), radix: 16) ?? 0) / 1e9 }
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<2_000 {
                        pipeline.telemetry.tracer.withSpan("writer") { span in
                            histogram.observe(value(of: span.context.spanContext?.spanID.description ?? ""))
                        }
                    }
                    return 0
                }
            }
            group.addTask {
                var checked = 0
                var finished = false
                repeat {
                    finished = histogram.snapshot.count == 8_000
                    for exemplar in histogram.snapshot.exemplars {
                        #expect(exemplar.value == value(of: exemplar.spanID?.description ?? ""))
                        #expect(exemplar.traceID != nil)
                        checked += 1
                    }
                    await Task.yield()
                } while !finished
                return checked
            }
            var total = 0
            for try await checked in group { total += checked }
            #expect(total > 0)
        }
        #expect(histogram.snapshot.count == 8_000)
    }

    /// A sample `openmetrics_check.py` printed.
    struct ParsedSample: Decodable {
        struct ParsedExemplar: Decodable {
            var labels: [String: String]
            var value: Double
            var timestamp: Double?
        }
        var name: String
        var labels: [String: String]
        var value: Double
        var exemplar: ParsedExemplar?
    }

    @Test(
        "prometheus_client's OpenMetrics parser reads the exposition with its exemplars and hostile labels; promtool accepts the text format of the same registry",
        .enabled(if: Peers.isAvailable("python3") && Peers.isAvailable("promtool"))
    )
    func parsersAcceptTheExposition() async throws {
        let (pipeline, histogram) = Self.histogram()
        let registry = pipeline.telemetry.registry
        let hostile = registry.histogram("hostile_seconds", help: "Help with \\ and\nnewline.", labelNames: ["path"])
        let ids = Self.inSpan(pipeline) {
            histogram.observe(0.05)
            hostile.labels(#"quote " back \ slash"#).observe(2)
            hostile.labels("日本語\n🚀").observe(20)
        }
        registry.counter("orders_total", help: "Orders.").labels().increment()
        let python = try Peers.require("python3")
        let script = OTLPReceiver.peersDirectory.appendingPathComponent("openmetrics_check.py").path
        let parsed = try await runCommandAsync(python, [script], input: Data(registry.render(format: .openMetrics)))
        #expect(parsed.status == 0, "\(parsed.standardError)")
        let samples = try parsed.standardOutput.split(separator: "\n").map { try JSONDecoder().decode(ParsedSample.self, from: Data($0.utf8)) }
        let traced = samples.filter { $0.exemplar != nil }
        #expect(traced.count == 3, "\(parsed.standardOutput)")
        for sample in traced {
            #expect(sample.exemplar?.labels == ["trace_id": ids.trace, "span_id": ids.span])
            #expect(sample.exemplar?.timestamp != nil)
        }
        #expect(traced.contains { $0.name == "exemplar_seconds_bucket" && $0.labels["le"] == "0.1" && $0.exemplar?.value == 0.05 })
        #expect(traced.contains { $0.labels["path"] == #"quote " back \ slash"# && $0.labels["le"] == "2.5" && $0.exemplar?.value == 2 })
        #expect(traced.contains { $0.labels["path"] == "日本語\n🚀" && $0.labels["le"] == "+Inf" && $0.exemplar?.value == 20 })

        // promtool (2.42) reads the 0.0.4 text format only: there, the same registry has no exemplars.
        let promtool = try await runCommandAsync(try Peers.require("promtool"), ["check", "metrics"], input: Data(registry.render(format: .prometheusText)))
        #expect(promtool.status == 0 && promtool.standardOutput.isEmpty, "\(promtool.standardOutput)\(promtool.standardError)")
        // A broken exemplar is refused by the parser: the check can fail.
        let broken = try await runCommandAsync(python, [script], input: Data("# TYPE a histogram\na_bucket{le=\"+Inf\"} 1 # {trace_id=\"x\" 1\n# EOF\n".utf8))
        #expect(broken.status == 1)
    }
}
