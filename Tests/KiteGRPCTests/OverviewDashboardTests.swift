import AddService
import Foundation
import Kite
import KiteGRPC
import KiteHTTP
import KiteNATS
import KiteTelemetry
import KiteTestSupport
import KiteThrift
import Testing

/// The service overview, telemetry pipeline and runtime dashboards against a real Prometheus:
/// every panel's expression (template variables set to "All") parses and returns data.
@Suite("The overview dashboards against a real Prometheus", .serialized, .enabled(if: Peers.isAvailable("prometheus") && Peers.isAvailable("nats-server")))
struct OverviewDashboardTests {
    @Test("the service overview: addsvc served over HTTP, gRPC, NATS and Thrift, and called over all four by a client")
    func serviceOverview() async throws {
        let expressions = try ResilienceDashboardTests.expressions(of: "kite-service.json")
        #expect(expressions.count >= 20)
        let nats = try await NATSServer()
        let addsvc = try await AddServiceProcess(
            environment: ["OTEL_TRACES_EXPORTER": "none"],
            arguments: ["--fail-rate", "0.2", "--no-shedding", "--nats", nats.url, "--thrift-port", "0"]
        )
        let lines = addsvc.lines
        try await waitUntil("addsvc to serve on NATS") { lines.all.contains { $0.contains(#"msg="nats: serving""#) } }

        // The client: one pipeline, every client transport.
        let pipeline = MemoryPipeline(serviceName: "client")
        let http = HTTPClientTransport(telemetry: pipeline.telemetry)
        defer { Task { try? await http.shutdown() } }
        let grpc = try GRPCConnection(configuration: .init(host: "127.0.0.1", port: addsvc.grpcPort), telemetry: pipeline.telemetry)
        let natsClient = try NATSClient(configuration: .init(servers: [nats.url]), telemetry: pipeline.telemetry)
        let thrift = ThriftConnection(configuration: .init(host: "127.0.0.1", port: addsvc.thriftPort, serviceName: "AddService"), telemetry: pipeline.telemetry)
        defer { thrift.close() }
        let clients = [
            AddEndpoints.http(http, baseURL: "http://127.0.0.1:\(addsvc.httpPort)"),
            AddEndpoints.grpc(grpc),
            AddEndpoints.nats(natsClient),
            AddEndpoints.thrift(thrift),
        ]
        try await withMetricsServer(pipeline.telemetry) { metricsPort in
            let prometheus = try await PrometheusServer(targets: ["127.0.0.1:\(addsvc.httpPort)", "127.0.0.1:\(metricsPort)"])
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await grpc.run() }
                group.addTask { try await natsClient.run() }
                for endpoints in clients {
                    group.addTask {
                        while !Task.isCancelled {
                            _ = try? await endpoints.sum(SumRequest(a: 1, b: 2))
                            _ = try? await endpoints.sum(SumRequest(a: 0, b: 0))  // a business error
                            _ = try? await endpoints.concat(ConcatRequest(a: "x", b: "y"))
                        }
                    }
                }
                defer {
                    group.cancelAll()
                    grpc.close()
                    natsClient.close()
                }
                try await prometheus.waitForTargetUp(count: 2)
                for expression in expressions {
                    let series = try await prometheus.waitForSeries(expression)
                    #expect(!series.isEmpty, "\(expression)")
                }
                try await ResilienceDashboardTests.verify(
                    ["kite-service.json"],
                    prometheus: prometheus,
                    targets: ["127.0.0.1:\(addsvc.httpPort)", "127.0.0.1:\(metricsPort)"]
                )
            }
        }
        _ = try await addsvc.terminate()
    }

    @Test("the telemetry pipeline, the runtime and the rules: addsvc exporting over OTLP and StatsD, answering on NATS, with a series cap it reaches")
    func telemetryAndRuntime() async throws {
        let expressions = try ResilienceDashboardTests.expressions(of: "kite-telemetry.json")
            + ResilienceDashboardTests.expressions(of: "kite-runtime.json")
        #expect(expressions.count >= 25)
        let receiver = try await OTLPReceiver()
        let statsd = try DatagramReceiver()
        let nats = try await NATSServer()
        let addsvc = try await AddServiceProcess(environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OTEL_METRIC_EXPORT_INTERVAL": "500",
            "KITE_STATSD_ADDRESS": "127.0.0.1:\(statsd.port)",
            // Small enough that addsvc's own HTTP series pass it: refusals to show.
            "KITE_METRICS_MAX_SERIES": "4",
        ], arguments: ["--nats", nats.url])
        // The load goes through Kite's own HTTP client, as a Kite caller's would.
        let client = HTTPClientTransport(telemetry: MemoryPipeline(serviceName: "load").telemetry)
        defer { Task { try? await client.shutdown() } }
        let endpoints = AddEndpoints.http(client, baseURL: "http://127.0.0.1:\(addsvc.httpPort)")
        let prometheus = try await PrometheusServer(
            targets: ["127.0.0.1:\(addsvc.httpPort)"],
            ruleFiles: [PrometheusRulesTests.dashboards.appendingPathComponent("kite-rules.yml").path]
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    // Successes and 400s on two routes, and /metrics scraped: past the cap of 4.
                    _ = try? await endpoints.sum(SumRequest(a: 1, b: 2))
                    _ = try? await endpoints.sum(SumRequest(a: 0, b: 0))
                    _ = try? await endpoints.concat(ConcatRequest(a: "x", b: "y"))
                    _ = try? await endpoints.concat(ConcatRequest(a: "0123456789", b: "x"))
                }
            }
            defer { group.cancelAll() }
            try await prometheus.waitForTargetUp()
            for expression in expressions {
                let series = try await prometheus.waitForSeries(expression)
                #expect(!series.isEmpty, "\(expression)")
            }
            // The rules read only metrics that exist: with OTLP, StatsD and NATS, addsvc has them all.
            try await ResilienceDashboardTests.verify(
                ["kite-telemetry.json", "kite-runtime.json", "kite-rules.yml"],
                prometheus: prometheus,
                targets: ["127.0.0.1:\(addsvc.httpPort)"]
            )
        }
        _ = try await addsvc.terminate()
        _ = statsd
    }
}
