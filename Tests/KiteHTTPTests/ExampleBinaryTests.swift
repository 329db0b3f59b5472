import Foundation
import KiteTestSupport
import Synchronization
import Testing

/// The built `stringsvc` executable, next to the test bundle.
func stringsvcBinary() throws -> String {
    try packageBinary("stringsvc")
}

/// The running example, started with `--port 0`; its port is read from its "listening" log line.
final class RunningExample: @unchecked Sendable {
    let process = Process()
    let output = Pipe()
    let lines = OutputLines()
    private(set) var port = 0
    /// When the process exited, as its termination handler saw it — on a thread of Foundation's,
    /// so busy test threads do not delay it.
    private let exitedAt = Mutex<ContinuousClock.Instant?>(nil)

    init(environment: [String: String]) async throws {
        self.process.executableURL = URL(fileURLWithPath: try stringsvcBinary())
        self.process.arguments = ["--port", "0", "--host", "127.0.0.1"]
        self.process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        self.process.standardOutput = self.output
        self.process.standardError = self.output
        let lines = self.lines
        lines.collect(from: self.output)
        self.process.terminationHandler = { [weak self] _ in self?.exitedAt.withLock { $0 = ContinuousClock.now } }
        try self.process.run()
        let process = self.process
        try await waitUntil("stringsvc to log its port") {
            guard process.isRunning else { throw ExitedEarly(status: process.terminationStatus, output: lines.all) }
            return lines.all.contains { $0.contains(#"msg="stringsvc listening""#) }
        }
        let line = self.lines.all.first { $0.contains(#"msg="stringsvc listening""#) } ?? ""
        let field = line.split(separator: " ").first { $0.hasPrefix("port=") }
        self.port = Int(field?.dropFirst("port=".count) ?? "") ?? 0
    }

    /// The base URL of the running service.
    var base: String { "http://127.0.0.1:\(self.port)" }

    /// Sends SIGTERM and waits (at most `timeout`) for the process to exit; returns how long it took.
    func terminate(timeout: Duration = .seconds(30)) async throws -> Duration {
        let start = ContinuousClock.now
        kill(self.process.processIdentifier, SIGTERM)
        var exited: ContinuousClock.Instant?
        try await waitUntil(timeout: timeout, "stringsvc to exit after SIGTERM") {
            exited = self.exitedAt.withLock { $0 }
            return exited != nil
        }
        return (exited ?? start) - start
    }

    deinit {
        self.output.fileHandleForReading.readabilityHandler = nil
        // A process that does not exit within ten seconds is killed: a test never hangs here.
        ChildStopper.stop(self.process, signal: SIGINT, grace: .seconds(10))
    }
}

/// The example exited before it listened.
struct ExitedEarly: StopsWaiting, CustomStringConvertible {
    var status: Int32
    var output: [String]
    var description: String { "stringsvc exited with status \(self.status) before listening: \(self.output.suffix(5))" }
}

@Suite("The stringsvc example as a process")
struct ExampleBinaryTests {
    @Test(
        "a real Prometheus scrapes the running example and returns its series through the query API",
        .enabled(if: Peers.isAvailable("prometheus") && Peers.isAvailable("promtool")),
        .timeLimit(.minutes(2))
    )
    func prometheusScrapesTheExample() async throws {
        let example = try await RunningExample(environment: [
            "OTEL_SERVICE_NAME": "stringsvc-under-test",
            "OTEL_TRACES_SAMPLER": "always_on",
        ])
        let base = "http://127.0.0.1:\(example.port)"
        for word in ["a", "bb", "ccc"] {
            #expect(try await post("\(base)/uppercase", #"{"s":"\#(word)"}"#).status == 200)
        }
        #expect(try await post("\(base)/count", #"{"s":""}"#).status == 400)

        // What the example exposes passes promtool without a lint finding.
        let exposition = try await httpRequest("\(base)/metrics")
        let check = try await runCommandAsync(try Peers.require("promtool"), ["check", "metrics"], input: exposition.body)
        #expect(check.status == 0 && check.standardOutput.isEmpty && check.standardError.isEmpty, "\(check.standardOutput)\(check.standardError)")

        let prometheus = try await PrometheusServer(target: "127.0.0.1:\(example.port)")
        try await prometheus.waitForTargetUp()
        let requests = try await prometheus.waitForSeries(#"kite_endpoint_requests_total{endpoint="uppercase",outcome="success"}"#)
        #expect((requests.first?["value"] as? [Any])?.last as? String == "3")
        let failures = try await prometheus.waitForSeries(#"kite_endpoint_requests_total{endpoint="count",outcome="business_error"}"#)
        #expect((failures.first?["metric"] as? [String: String])?["error_type"] == "StringServiceError")
        let http = try await prometheus.waitForSeries(
            #"http_server_request_duration_seconds_count{http_route="/count",http_response_status_code="400"}"#
        )
        #expect((http.first?["value"] as? [Any])?.last as? String == "1")
        let process = try await prometheus.waitForSeries("process_resident_memory_bytes")
        #expect(Double((process.first?["value"] as? [Any])?.last as? String ?? "0") ?? 0 > 0)

        // The OTEL_* environment applied: logs carry the service name, spans went to the console.
        try await waitUntil("a console span line") {
            example.lines.all.contains { $0.contains(#"span="POST /uppercase""#) }
        }
        #expect(example.lines.all.contains { $0.contains("label=stringsvc-under-test") && $0.contains(#"msg="endpoint call""#) })
    }

    @Test("with KITE_STATSD_ADDRESS the example pushes the same endpoint metrics to StatsD", .timeLimit(.minutes(1)))
    func exampleFeedsStatsD() async throws {
        let agent = try DatagramReceiver()
        let example = try await RunningExample(environment: [
            "KITE_STATSD_ADDRESS": "127.0.0.1:\(agent.port)",
            "KITE_STATSD_DIALECT": "dogstatsd",
            "KITE_STATSD_FLUSH_INTERVAL": "100",
        ])
        let base = "http://127.0.0.1:\(example.port)"
        for word in ["a", "b", "c"] {
            #expect(try await post("\(base)/uppercase", #"{"s":"\#(word)"}"#).status == 200)
        }
        let prefix = "kite_endpoint_requests_total:"
        let tags = "|c|#endpoint:uppercase,outcome:success,error_type:_"
        @Sendable func total(_ lines: [String]) -> Int {
            lines.filter { $0.hasPrefix(prefix) && $0.hasSuffix(tags) }
                .compactMap { Int($0.dropFirst(prefix.count).dropLast(tags.count)) }
                .reduce(0, +)
        }
        let lines = await agent.receiveLines { total($0) >= 3 }.lines
        #expect(total(lines) == 3, "\(lines.filter { $0.hasPrefix(prefix) })")
        #expect(lines.contains { $0.hasPrefix("http_server_request_duration_seconds:") && $0.contains("|d") })
    }

    @Test(
        "with an OTLP endpoint and StatsD the example exports traces, metrics, logs and StatsD lines; a Python SDK client span's trace continues in Kite",
        .enabled(if: Peers.isAvailable("python3")),
        .timeLimit(.minutes(2))
    )
    func exampleExportsOTLP() async throws {
        let receiver = try await OTLPReceiver()
        let agent = try DatagramReceiver()
        let example = try await RunningExample(environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OTEL_BLRP_SCHEDULE_DELAY": "100",
            "OTEL_METRIC_EXPORT_INTERVAL": "200",
            "KITE_STATSD_ADDRESS": "127.0.0.1:\(agent.port)",
            "KITE_STATSD_FLUSH_INTERVAL": "100",
        ])
        let client = try await runCommandAsync(
            try Peers.require("python3"),
            [
                OTLPReceiver.peersDirectory.appendingPathComponent("otel_client.py").path,
                "http://127.0.0.1:\(example.port)/uppercase", #"{"s":"kite"}"#,
            ]
        )
        #expect(client.status == 0, "\(client.standardError)")
        let call = try #require(
            try JSONSerialization.jsonObject(with: Data(client.standardOutput.utf8)) as? [String: Any],
            "\(client.standardOutput)"
        )
        let traceID = try #require(call["trace_id"] as? String)
        let clientSpanID = try #require(call["span_id"] as? String)
        #expect(call["status"] as? Int == 200)
        #expect((call["body"] as? String)?.contains("KITE") == true)

        // Traces: the server span continues the Python client's trace, the endpoint span is its child.
        let received = try await receiver.waitFor("the server span, endpoint metrics and the call's log record") { received in
            received.spans.contains { $0.traceId == traceID && $0.kind == 2 }
                && received.metrics.contains { $0.name == "kite_endpoint_requests" && $0.points.contains { $0.value == 1 } }
                && received.logs.contains { $0.traceId == traceID }
        }
        let server = try #require(received.spans.first { $0.traceId == traceID && $0.kind == 2 })
        #expect(server.parentSpanId == clientSpanID)
        #expect(server.name == "POST /uppercase")
        #expect(server.resource["service.name"] == "stringsvc")
        #expect(received.spans.contains { $0.traceId == traceID && $0.parentSpanId == server.spanId })

        // Metrics: the endpoint's RED counter, as Prometheus and StatsD see it.
        let requests = received.metrics.filter { $0.name == "kite_endpoint_requests" }.flatMap(\.points)
        #expect(requests.contains { $0.attributes["endpoint"] == "uppercase" && $0.attributes["outcome"] == "success" && $0.value == 1 })

        // Logs: the endpoint's log line, correlated with the trace.
        let record = try #require(received.logs.first { $0.traceId == traceID })
        #expect(record.attributes["endpoint"] == .string("uppercase"))

        // StatsD: the same counter, pushed as a line.
        let lines = await agent.receiveLines { lines in lines.contains { $0.hasPrefix("kite_endpoint_requests_total.endpoint.uppercase") } }.lines
        #expect(lines.contains { $0.hasPrefix("kite_endpoint_requests_total.endpoint.uppercase") && $0.hasSuffix(":1|c") })
        // With an OTLP endpoint set, spans go there rather than to the console.
        #expect(!example.lines.all.contains { $0.contains(#"span="POST /uppercase""#) })
    }
}
