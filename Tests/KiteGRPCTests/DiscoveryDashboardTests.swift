import KiteTestSupport
import Testing

/// Every PromQL expression of `Dashboards/kite-discovery.json`, run against a real Prometheus that
/// scrapes two addsvc registered in a real etcd and the apigateway in front of them under load: each
/// parses and returns data.
@Suite("The discovery dashboard against a real Prometheus", .enabled(if: Peers.isAvailable("prometheus") && Peers.isAvailable("etcd")))
struct DiscoveryDashboardTests {
    @Test("each expression parses and returns data")
    func everyExpressionReturnsData() async throws {
        let expressions = try ResilienceDashboardTests.expressions(of: "kite-discovery.json")
        #expect(expressions.count >= 12)
        let etcd = try await EtcdServer()
        let register = ["--register", "etcd", "--registry", etcd.url, "--registration-ttl", "3s"]
        let addsvcs = [
            try await AddServiceProcess(environment: ["OTEL_TRACES_EXPORTER": "none"], arguments: register),
            // Failing half its calls, so that the gateway retries on the other.
            try await AddServiceProcess(environment: ["OTEL_TRACES_EXPORTER": "none"], arguments: register + ["--fail-rate", "0.5"]),
        ]
        let gateway = try await APIGatewayProcess(["--discovery", "etcd", "--registry", etcd.url])
        try await waitUntil("the gateway to see both addsvc") { try await gateway.instances() == 4 }
        let targets = ["127.0.0.1:\(gateway.port)"] + addsvcs.map { "127.0.0.1:\($0.httpPort)" }
        let prometheus = try await PrometheusServer(targets: targets)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled { _ = await gateway.sum(1, 2) }
            }
            defer { group.cancelAll() }
            try await prometheus.waitForTargetUp(count: 3)
            for expression in expressions {
                let series = try await prometheus.waitForSeries(expression)
                #expect(!series.isEmpty, "\(expression)")
            }
            try await ResilienceDashboardTests.verify(["kite-discovery.json"], prometheus: prometheus, targets: targets)
        }
    }
}
