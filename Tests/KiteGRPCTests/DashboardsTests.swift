import Foundation
import KiteTestSupport
import Testing

/// `Dashboards/verify --start`: the examples under load (addsvc on HTTP, gRPC, NATS and Thrift, a
/// capped addsvc, the apigateway over etcd, addcli loads with their resilience) with a real
/// Prometheus scraping them; every dashboard's panels parse, return series and carry the labels
/// their legends name, every rule parses, and every metric they read is in a live `/metrics`.
@Suite(
    "Every dashboard and rule against the examples and a real Prometheus",
    .enabled(if: Peers.isAvailable("prometheus") && Peers.isAvailable("etcd") && Peers.isAvailable("nats-server"))
)
struct DashboardsTests {
    @Test("Dashboards/verify --start: every panel has data, every rule parses, every metric exists")
    func verify() async throws {
        let binaries = URL(fileURLWithPath: try exampleBinary("addsvc")).deletingLastPathComponent().path
        _ = try exampleBinary("addcli")
        _ = try exampleBinary("apigateway")
        let script = PrometheusRulesTests.dashboards.appendingPathComponent("verify").path
        let result = try await runCommandAsync(try Peers.require("python3"), [script, "--start", binaries, "--wait", "90"])
        #expect(result.status == 0, "\(result.standardOutput)\(result.standardError)")
        // Five dashboards and the rule file, and no problem in any.
        let summary = try #require(result.standardOutput.split(separator: "\n").last { $0.hasPrefix("verify: ") })
        #expect(summary.contains(" in 6 files, 0 problems"), "\(result.standardOutput)")
    }
}
