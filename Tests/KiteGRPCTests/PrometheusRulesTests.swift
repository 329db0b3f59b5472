import AddService
import Foundation
import Kite
import KiteHTTP
import KiteTelemetry
import KiteTestSupport
import Testing

/// `Dashboards/kite-rules.yml`: promtool accepts it, every alert has unit tests that pass, and a
/// real Prometheus evaluates every rule against a real addsvc — each recording rule gives series
/// and a failing addsvc fires the fast failure-budget alert.
@Suite("Kite's Prometheus rules", .enabled(if: Peers.isAvailable("promtool")))
struct PrometheusRulesTests {
    static let dashboards = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Dashboards")

    /// The names after `key:` in the rules file (`alert`, `record`).
    static func names(_ key: String, in file: String) throws -> [String] {
        let text = try String(contentsOf: Self.dashboards.appendingPathComponent(file), encoding: .utf8)
        return text.split(separator: "\n").compactMap { line -> String? in
            let trimmed = line.drop { $0 == " " }
            guard trimmed.hasPrefix("- \(key): ") || trimmed.hasPrefix("\(key): ") else { return nil }
            return String(trimmed.split(separator: ":", maxSplits: 1)[1].drop { $0 == " " })
        }
    }

    @Test("promtool checks the rules, and every alert has unit tests, firing and not, that pass")
    func promtool() async throws {
        let promtool = try Peers.require("promtool")
        let rules = Self.dashboards.appendingPathComponent("kite-rules.yml").path
        let check = try await runCommandAsync(promtool, ["check", "rules", rules])
        #expect(check.status == 0, "\(check.standardOutput)\(check.standardError)")
        let alerts = try Self.names("alert", in: "kite-rules.yml")
        let records = try Self.names("record", in: "kite-rules.yml")
        #expect(check.standardOutput.contains("SUCCESS: \(alerts.count + records.count) rules found"), "\(check.standardOutput)")

        let tested = Set(try Self.names("alertname", in: "kite-rules.test.yml"))
        #expect(Set(alerts) == tested, "alerts without tests: \(Set(alerts).subtracting(tested))")
        let test = try await runCommandAsync(promtool, ["test", "rules", Self.dashboards.appendingPathComponent("kite-rules.test.yml").path])
        #expect(test.status == 0 && test.standardOutput.contains("SUCCESS"), "\(test.standardOutput)\(test.standardError)")
    }

    @Test(
        "a real Prometheus evaluates every rule against a failing addsvc: all healthy, every recording rule has series, the fast burn alert fires",
        .enabled(if: Peers.isAvailable("prometheus"))
    )
    func liveEvaluation() async throws {
        let addsvc = try await AddServiceProcess(environment: ["OTEL_TRACES_EXPORTER": "none"], arguments: ["--fail-rate", "0.3", "--no-shedding"])
        let prometheus = try await PrometheusServer(
            targets: ["127.0.0.1:\(addsvc.httpPort)"],
            ruleFiles: [Self.dashboards.appendingPathComponent("kite-rules.yml").path]
        )
        // The load goes through Kite's own HTTP client, as a Kite caller's would.
        let client = HTTPClientTransport(telemetry: MemoryPipeline(serviceName: "load").telemetry)
        defer { Task { try? await client.shutdown() } }
        let sum = AddEndpoints.http(client, baseURL: "http://127.0.0.1:\(addsvc.httpPort)").sum
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    _ = try? await sum(SumRequest(a: 1, b: 2))
                }
            }
            defer { group.cancelAll() }
            try await prometheus.waitForTargetUp()
            for record in try Self.names("record", in: "kite-rules.yml") {
                let series = try await prometheus.waitForSeries(record)
                #expect(!series.isEmpty, "\(record)")
            }
            let firing = try await prometheus.waitForSeries(#"ALERTS{alertname="KiteEndpointFailureBudgetBurnFast",alertstate="firing",endpoint="sum"}"#)
            #expect(firing.count == 1)

            let rules = try await httpRequest("http://127.0.0.1:\(prometheus.port)/api/v1/rules")
            let body = try JSONSerialization.jsonObject(with: rules.body) as? [String: Any]
            let groups = ((body?["data"] as? [String: Any])?["groups"] as? [[String: Any]]) ?? []
            let evaluated = groups.flatMap { $0["rules"] as? [[String: Any]] ?? [] }
            #expect(evaluated.count == (try Self.names("alert", in: "kite-rules.yml").count + Self.names("record", in: "kite-rules.yml").count))
            for rule in evaluated {
                #expect(rule["health"] as? String == "ok", "\(rule["name"] ?? "?"): \(rule["lastError"] ?? "")")
            }
        }
    }
}
