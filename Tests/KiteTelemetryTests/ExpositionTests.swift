import CompressNIO
import Foundation
import KiteTelemetry
import KiteTestSupport
import Logging
import NIOCore
import Testing

@Suite("Prometheus exposition")
struct ExpositionTests {
    /// A registry with every metric type, hostile label values and process metrics.
    static func fullRegistry() -> MetricRegistry {
        let registry = MetricRegistry()
        ProcessMetrics.register(in: registry)
        let requests = registry.counter("http_requests_total", help: "Requests served.\nSecond line \\ backslash.", labelNames: ["path", "code"])
        requests.labels("/a", "200").increment(by: 5)
        requests.labels(#"quote " back \ slash"#, "500").increment()
        requests.labels("new\nline", "404").increment(by: 2.5)
        requests.labels("日本語 ünïcödé 🚀", "200").increment()
        registry.gauge("temperature_celsius", help: "Temperature.").labels().set(-3.25)
        let latency = registry.histogram("request_duration_seconds", help: "Latency.", labelNames: ["route"])
        latency.labels("/a").observe(0.03)
        latency.labels("/a").observe(2)
        registry.gauge("odd.name-with dots", help: "Sanitised.", labelNames: ["label.with-dash"]).labels("v").set(1)
        return registry
    }

    @Test("text format 0.0.4: HELP, TYPE, escaping, counters and histograms")
    func textFormat() {
        let registry = MetricRegistry()
        let counter = registry.counter("jobs", help: "Jobs \"done\".\nTwo lines.", labelNames: ["name"])
        counter.labels("a\"b\\c\nd").increment(by: 2)
        registry.gauge("ratio", help: "").labels().set(0.5)
        let text = String(decoding: registry.render(format: .prometheusText), as: UTF8.self)
        #expect(text.contains("# HELP jobs_total Jobs \"done\".\\nTwo lines.\n# TYPE jobs_total counter\n"))
        #expect(text.contains("jobs_total{name=\"a\\\"b\\\\c\\nd\"} 2\n"))
        #expect(text.contains("# TYPE ratio gauge\nratio 0.5\n"))
        #expect(!text.contains("# EOF"))
    }

    @Test("OpenMetrics 1.0: counter family without _total, floats with .0, # EOF")
    func openMetrics() {
        let registry = MetricRegistry()
        registry.counter("jobs_total", help: "Jobs \"done\".").labels().increment()
        registry.gauge("level", help: "").labels().set(3)
        registry.histogram("d_seconds", help: "", buckets: HistogramBuckets([1])).labels().observe(0.5)
        let text = String(decoding: registry.render(format: .openMetrics), as: UTF8.self)
        #expect(text.contains("# HELP jobs Jobs \\\"done\\\".\n# TYPE jobs counter\njobs_total 1\n"))
        #expect(text.contains("level 3.0\n"))
        #expect(text.contains("d_seconds_bucket{le=\"1.0\"} 1\n"))
        #expect(text.hasSuffix("# EOF\n"))
    }

    @Test("the format follows the Accept header")
    func negotiation() {
        #expect(ExpositionFormat.negotiate(accept: nil) == .prometheusText)
        #expect(ExpositionFormat.negotiate(accept: "text/plain") == .prometheusText)
        #expect(
            ExpositionFormat.negotiate(
                accept: "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
            ) == .openMetrics
        )
        #expect(ExpositionFormat.negotiate(accept: "application/openmetrics-text;version=2.0.0") == .prometheusText)
        #expect(ExpositionFormat.negotiate(accept: "application/openmetrics-text;q=0") == .prometheusText)
    }

    @Test("names are sanitised by Prometheus' rules")
    func sanitising() {
        #expect(MetricName.sanitized("http.server.request.duration") == "http_server_request_duration")
        #expect(MetricName.sanitized("9lives") == "_9lives")
        #expect(MetricName.sanitized("a:b-c d") == "a:b_c_d")
        #expect(MetricName.sanitized("") == "_")
        #expect(MetricName.sanitizedLabel("a:b") == "a_b")
        #expect(MetricName.sanitizedLabel("__reserved") == "k__reserved")
    }

    @Test("gzip when asked for")
    func gzip() throws {
        let registry = Self.fullRegistry()
        let handler = PrometheusScrapeHandler(registry: registry)
        let plain = handler.respond(accept: nil, acceptEncoding: nil)
        #expect(plain.contentEncoding == nil)
        var compressed = handler.respond(accept: nil, acceptEncoding: "deflate, gzip;q=0.8").body
        #expect(compressed.getBytes(at: compressed.readerIndex, length: 2) == [0x1F, 0x8B])
        let decompressed = try compressed.decompress(with: .gzip())
        let text = String(buffer: decompressed)
        #expect(text.contains("http_requests_total{path=\"/a\",code=\"200\"} 5"))
        #expect(handler.respond(accept: nil, acceptEncoding: "gzip;q=0").contentEncoding == nil)
    }

    @Test("process metrics are read from /proc")
    func processMetrics() {
        let registry = MetricRegistry()
        ProcessMetrics.register(in: registry)
        let text = String(decoding: registry.render(format: .prometheusText), as: UTF8.self)
        func value(_ name: String) -> Double? {
            text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) }
        }
        #expect((value("process_resident_memory_bytes") ?? 0) > 1_000_000)
        #expect((value("process_virtual_memory_bytes") ?? 0) > (value("process_resident_memory_bytes") ?? 0))
        #expect((value("process_open_fds") ?? 0) >= 3)
        #expect((value("process_max_fds") ?? 0) >= (value("process_open_fds") ?? 0))
        #expect((value("process_cpu_seconds_total") ?? -1) >= 0)
        let start = value("process_start_time_seconds") ?? 0
        let now = Date().timeIntervalSince1970
        #expect(start > now - 86_400 && start <= now + 1)
    }

    @Test("promtool accepts the exposition of every metric type with hostile labels", .enabled(if: Peers.isAvailable("promtool")))
    func promtoolAcceptsTheExposition() async throws {
        let promtool = try Peers.require("promtool")
        let exposition = Data(Self.fullRegistry().render(format: .prometheusText))
        let result = try await runCommandAsync(promtool, ["check", "metrics"], input: exposition)
        #expect(result.status == 0, "promtool: \(result.standardOutput) \(result.standardError)")
        #expect(result.standardError.isEmpty && result.standardOutput.isEmpty, "lint findings: \(result.standardOutput)\(result.standardError)")
    }

    @Test(
        "a real Prometheus scrapes the listener and returns hostile label values exactly",
        .enabled(if: Peers.isAvailable("prometheus")),
        .timeLimit(.minutes(2))
    )
    func prometheusRoundTrip() async throws {
        let registry = Self.fullRegistry()
        let listener = try await PrometheusScrapeServer.bind(
            configuration: .init(host: "127.0.0.1", port: 0),
            handler: PrometheusScrapeHandler(registry: registry),
            logger: .init(label: "test")
        )
        defer { Task { try? await listener.close() } }
        let prometheus = try await PrometheusServer(target: "127.0.0.1:\(listener.port)")
        try await prometheus.waitForTargetUp()

        let series = try await prometheus.waitForSeries("http_requests_total")
        let paths = Set(series.compactMap { ($0["metric"] as? [String: String])?["path"] })
        #expect(paths == ["/a", #"quote " back \ slash"#, "new\nline", "日本語 ünïcödé 🚀"])
        // Waited for, not asked once: a scrape that fails under load marks every series stale until
        // the next one.
        let quoted = try await prometheus.waitForSeries(#"http_requests_total{path="quote \" back \\ slash"}"#)
        #expect((quoted.first?["value"] as? [Any])?.last as? String == "1")
        let histogram = try await prometheus.waitForSeries(#"request_duration_seconds_bucket{le="0.05"}"#)
        #expect((histogram.first?["value"] as? [Any])?.last as? String == "1")
        let sanitized = try await prometheus.waitForSeries(#"odd_name_with_dots{label_with_dash="v"}"#)
        #expect(sanitized.count == 1)
    }

    @Test("the scrape listener answers other paths with 404 and other methods with 405")
    func scrapeListenerErrors() async throws {
        let listener = try await PrometheusScrapeServer.bind(
            configuration: .init(host: "127.0.0.1", port: 0),
            handler: PrometheusScrapeHandler(registry: MetricRegistry()),
            logger: .init(label: "test")
        )
        defer { Task { try? await listener.close() } }
        let base = "http://127.0.0.1:\(listener.port)"
        let ok = try await httpRequest("\(base)/metrics", headers: ["Accept": "application/openmetrics-text; version=1.0.0"])
        #expect(ok.status == 200)
        #expect(ok.headers["content-type"]?.hasPrefix("application/openmetrics-text") == true)
        #expect(ok.text.hasSuffix("# EOF\n"))
        #expect(try await httpRequest("\(base)/other").status == 404)
        #expect(try await httpRequest("\(base)/metrics", method: "POST", body: Data("x".utf8)).status == 405)
    }
}
