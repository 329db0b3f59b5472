import Benchmark
import KiteTelemetry

/// How spans reach the console in the end-to-end console benchmarks.
enum ConsoleSpanPath: CaseIterable {
    /// What `OTEL_TRACES_EXPORTER=console` does: each line written as its span ends.
    case atEnd
    /// A batch span processor in front of `ConsoleSpanExporter`: queued, written by the
    /// exporting task.
    case batched

    var benchmarkName: String {
        switch self {
        case .atEnd:
            "End to end to the console, each line written as its span ends (ConsoleSpanProcessor): 200,000 spans at 100,000 spans/s (process CPU; dropped lines)"
        case .batched:
            "End to end to the console through a BatchSpanProcessor and ConsoleSpanExporter: the same spans (process CPU; dropped lines)"
        }
    }
}

/// The console's end to end: the OTLP end-to-end benchmark's spans (8 attributes, 1 event, paced
/// at 100,000 spans/s for 2 s), written as logfmt lines into an output that discards them — what
/// stringsvc does by default with its spans. The process's CPU time, both paths, so that the
/// one `Telemetry` takes is chosen by measurement.
func consoleSpanBenchmarks() {
    for path in ConsoleSpanPath.allCases {
        Benchmark(
            path.benchmarkName,
            configuration: .init(
                metrics: [.wallClock, .cpuTotal, .custom("dropped lines", polarity: .prefersSmaller, useScalingFactor: false)],
                scalingFactor: .one,
                maxDuration: .seconds(30),
                maxIterations: 3
            )
        ) { benchmark in
            var configuration = TelemetryConfiguration(serviceName: "bench", environment: [
                "OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none",
            ])
            configuration.logOutput = DiscardingLogOutput()
            configuration.processMetrics = false
            let batchSink = path == .batched ? LogSink(output: DiscardingLogOutput()) : nil
            if let batchSink { configuration.tracesExporter = .custom(ConsoleSpanExporter(sink: batchSink)) }
            let telemetry = Telemetry(configuration: configuration)
            let run = Task { try await telemetry.run() }
            benchmark.startMeasurement()
            try await produceEndToEndSpans(telemetry.tracer)
            await telemetry.forceFlush()
            batchSink?.flush()
            benchmark.stopMeasurement()
            // Every line is written or counted: the sink's drops, the batch queue's, the batched path's own sink's.
            let dropped = (unlabelledValue(telemetry.registry, "kite_log_dropped_lines_total") ?? -1)
                + (unlabelledValue(telemetry.registry, "kite_span_processor_dropped_spans_total") ?? 0)
                + Double(batchSink?.droppedLines ?? 0)
            benchmark.measurement(.custom("dropped lines"), Int(dropped))
            run.cancel()
            _ = try? await run.value
            batchSink?.shutdown()
        }
    }
}
