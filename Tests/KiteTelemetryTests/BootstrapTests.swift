import CoreMetrics
import Foundation
import Instrumentation
import KiteTelemetry
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
            let output = InMemoryLogOutput()
            let spans = InMemorySpanExporter()
            let telemetry = Telemetry.bootstrap(serviceName: "bootstrapped", environment: [:]) { configuration in
                configuration.logOutput = output
                configuration.tracesExporter = .custom(spans)
                configuration.scrapeListener = nil
            }
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
}
