import CoreMetrics
import Foundation
import Instrumentation
import KiteTelemetry
import KiteTestSupport
import Logging
import Testing
import Tracing

@Suite("Telemetry.bootstrap")
struct BootstrapTests {
    /// The global systems can be bootstrapped once per process, so this runs in a child process
    /// of its own (an exit test): it exits 0 only when all three facades reach the pipeline.
    @Test("bootstrap points swift-log, swift-metrics and swift-distributed-tracing at the pipeline, so libraries' telemetry lands in it")
    func facadesReachThePipeline() async {
        await #expect(processExitsWith: .success) {
            let pipeline = MemoryPipeline.bootstrapped(serviceName: "bootstrapped")
            let (telemetry, output, spans) = (pipeline.telemetry, pipeline.logs, pipeline.spans)
            // What a library does: it knows only the facades.
            Logger(label: "SomeLibrary").info("from a library", metadata: ["k": "v"])
            CoreMetrics.Counter(label: "library_requests", dimensions: [("route", "/a")]).increment(by: 2)
            InstrumentationSystem.tracer.startSpan("library span").end()
            await telemetry.forceFlush()

            let logged = output.lines.contains { $0.contains("label=SomeLibrary") && $0.contains(#"msg="from a library""#) && $0.contains("k=v") }
            let text = String(decoding: telemetry.registry.render(format: .prometheusText), as: UTF8.self)
            let counted = text.contains(#"library_requests_total{route="/a"} 2"#)
            let traced = spans.exportedSpans.contains { $0.name == "library span" }
            exit(logged && counted && traced ? 0 : 1)
        }
    }

    /// With Kite's tracer bootstrapped before an OTLP exporter makes its first request, an HTTP
    /// client that traced its requests would start a span for each export (which the next export
    /// would carry). The exporters' client traces nothing: the bootstrapped pipeline gets no span
    /// from the other one's exports. Exit test: bootstrapping is once per process.
    @Test("an OTLP exporter does not trace its own requests, even with a tracer bootstrapped before it")
    func exporterIsNotTraced() async {
        await #expect(processExitsWith: .success) {
            let bootstrapped = MemoryPipeline.bootstrapped(serviceName: "bootstrapped")
            // A second pipeline exporting over OTLP, made after the bootstrap; nothing listens on
            // port 9 (discard), so each export fails fast — a span would be made all the same.
            var configuration = TelemetryConfiguration(serviceName: "exporting", environment: [
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
                "OTEL_EXPORTER_OTLP_TIMEOUT": "300",
                "OTEL_METRICS_EXPORTER": "none",
                "OTEL_LOGS_EXPORTER": "none",
            ])
            configuration.logOutput = InMemoryLogOutput()
            configuration.scrapeListener = nil
            let exporting = Telemetry(configuration: configuration)
            exporting.tracer.startSpan("exported", context: .topLevel).end()
            await exporting.forceFlush()
            let text = String(decoding: exporting.registry.render(format: .prometheusText), as: UTF8.self)
            let attempted = text.contains(#"kite_otlp_exporter_requests_total{signal="traces",status="error"}"#)
            let traced = await bootstrapped.flushedSpans()
            exit(attempted && traced.isEmpty ? 0 : 1)
        }
    }
}
