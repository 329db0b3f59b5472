import Foundation
import KiteTestSupport
import Testing

/// Exemplars from a running example to a real Prometheus (with exemplar storage) and the spans
/// they name to an OTLP receiver on the upstream definitions.
@Suite(
    "Exemplars: addsvc, a real Prometheus and an OTLP receiver",
    .enabled(if: Peers.isAvailable("prometheus") && Peers.isAvailable("python3"))
)
struct ExemplarEndToEndTests {
    @Test("Prometheus' /api/v1/query_exemplars returns exemplars of the endpoint and HTTP histograms whose trace ids are spans addsvc exported")
    func exemplarsLinkToExportedSpans() async throws {
        let receiver = try await OTLPReceiver()
        let addsvc = try await AddServiceProcess(environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OTEL_METRICS_EXPORTER": "prometheus",
        ])
        let prometheus = try await PrometheusServer(targets: ["127.0.0.1:\(addsvc.httpPort)"], features: ["exemplar-storage"])
        let base = "http://127.0.0.1:\(addsvc.httpPort)"
        var exemplars: [(metric: String, traceID: String, spanID: String)] = []
        try await waitUntil("Prometheus to hold exemplars of both histograms") {
            _ = try await httpRequest(base + "/sum", method: "POST", body: Data(#"{"a":1,"b":2}"#.utf8))
            exemplars = []
            for metric in ["kite_endpoint_request_duration_seconds_bucket", "http_server_request_duration_seconds_bucket"] {
                for series in try await prometheus.queryExemplars(metric) {
                    for exemplar in series["exemplars"] as? [[String: Any]] ?? [] {
                        let labels = exemplar["labels"] as? [String: String] ?? [:]
                        exemplars.append((metric, labels["trace_id"] ?? "", labels["span_id"] ?? ""))
                    }
                }
            }
            return Set(exemplars.map(\.metric)).count == 2
        }
        let received = try await receiver.waitFor("the spans the exemplars name") { received in
            let spans = Set(received.spans.map { "\($0.traceId)/\($0.spanId)" })
            return exemplars.allSatisfy { spans.contains("\($0.traceID)/\($0.spanID)") }
        }
        // The endpoint histogram's exemplar names the endpoint's span; the HTTP one the server span.
        for exemplar in exemplars {
            let span = try #require(received.spans.first { $0.traceId == exemplar.traceID && $0.spanId == exemplar.spanID })
            #expect(span.name == (exemplar.metric.hasPrefix("kite_endpoint") ? "sum" : "POST /sum"), "\(exemplar)")
        }
        _ = try await addsvc.terminate()
    }
}
