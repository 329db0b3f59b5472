import AddService
import Foundation
import Kite
import KiteHTTP
import KiteTelemetry
import KiteTestSupport
import Synchronization
import Testing

/// Every PromQL expression of `Dashboards/kite-resilience.json`, run against a real Prometheus
/// that scrapes addsvc (faults, rate limit, load shedder) and a client under load (breaker,
/// retry with budget, bulkhead, adaptive concurrency limit): each parses and returns data.
@Suite("The resilience dashboard against a real Prometheus", .enabled(if: Peers.isAvailable("prometheus")))
struct ResilienceDashboardTests {
    /// The expressions of the dashboard `file` in `Dashboards/`, with Grafana's
    /// `$__rate_interval` and the template variables (`$job`, `$instance`, `$endpoint`: "All")
    /// as Prometheus needs them.
    static func expressions(of file: String = "kite-resilience.json") throws -> [String] {
        let url = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Dashboards/\(file)")
        let dashboard = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
        let panels = dashboard?["panels"] as? [[String: Any]] ?? []
        return panels.flatMap { panel in
            (panel["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String }
        }
        .map { expression in
            ["$__rate_interval": "1m", "$job": ".*", "$instance": ".*", "$endpoint": ".*"].reduce(expression) {
                $0.replacingOccurrences(of: $1.key, with: $1.value)
            }
        }
    }

    /// Runs `Dashboards/verify` on `files` against `prometheus`, with the live `/metrics` of
    /// `targets` (`host:port`); its report when it finds a problem.
    static func verify(_ files: [String], prometheus: PrometheusServer, targets: [String]) async throws {
        let script = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Dashboards/verify").path
        let arguments = [script, "--prometheus", "http://127.0.0.1:\(prometheus.port)"]
            + targets.flatMap { ["--metrics", "http://\($0)/metrics"] } + files
        let result = try await runCommandAsync(try Peers.require("python3"), arguments)
        #expect(result.status == 0, "\(result.standardOutput)\(result.standardError)")
        #expect(result.standardOutput.contains(" 0 problems"), "\(result.standardOutput)")
    }

    @Test("each expression parses and returns data")
    func everyExpressionReturnsData() async throws {
        let expressions = try Self.expressions()
        #expect(expressions.count >= 15)
        let addsvc = try await AddServiceProcess(
            environment: ["OTEL_TRACES_EXPORTER": "none"],
            arguments: ["--fail-rate", "0.3", "--rate-limit", "400"]
        )
        let pipeline = MemoryPipeline(serviceName: "client")
        let telemetry = pipeline.telemetry
        let client = HTTPClientTransport(telemetry: telemetry)
        defer { Task { try? await client.shutdown() } }
        let sum = AddEndpoints.http(client, baseURL: "http://127.0.0.1:\(addsvc.httpPort)").sum.with(
            .bulkhead(try Bulkhead("client", maxConcurrentCalls: 2, maxWaitingCalls: 16, maxWait: .seconds(1), telemetry: telemetry)),
            .adaptiveConcurrencyLimit(try AdaptiveConcurrencyLimiter("client", telemetry: telemetry)),
            try .retry(
                RetryPolicy(maxAttempts: 3, initialBackoff: .milliseconds(1), budget: try RetryBudget(ratio: 0.2)),
                name: "addsvc",
                telemetry: telemetry
            ),
            .circuitBreaker(try CircuitBreaker("addsvc", policy: .consecutiveFailures(3, coolDown: .milliseconds(200)), telemetry: telemetry))
        )
        try await withMetricsServer(telemetry) { metricsPort in
            let prometheus = try await PrometheusServer(targets: ["127.0.0.1:\(addsvc.httpPort)", "127.0.0.1:\(metricsPort)"])
            try await withThrowingTaskGroup(of: Void.self) { group in
                // The load: four callers, until every expression has data.
                for _ in 0..<4 {
                    group.addTask {
                        while !Task.isCancelled {
                            _ = try? await sum(SumRequest(a: 1, b: 2))
                        }
                    }
                }
                defer { group.cancelAll() }
                try await prometheus.waitForTargetUp(count: 2)
                for expression in expressions {
                    let series = try await prometheus.waitForSeries(expression)
                    #expect(!series.isEmpty, "\(expression)")
                }
                try await Self.verify(
                    ["kite-resilience.json"],
                    prometheus: prometheus,
                    targets: ["127.0.0.1:\(addsvc.httpPort)", "127.0.0.1:\(metricsPort)"]
                )
            }
        }
        _ = try await addsvc.terminate()
    }
}
