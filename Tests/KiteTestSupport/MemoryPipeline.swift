import KiteTelemetry

/// A pipeline that keeps spans and log lines in memory.
public struct MemoryPipeline: Sendable {
    public let telemetry: Telemetry
    public let spans: InMemorySpanExporter
    public let logs: InMemoryLogOutput

    public init(serviceName: String, environment: [String: String] = [:]) {
        self.init(serviceName: serviceName, environment: environment, bootstrapping: false)
    }

    /// A pipeline that swift-log, swift-metrics and swift-distributed-tracing are bootstrapped
    /// to (`Telemetry.bootstrap`): once per process, so only in an exit test's child process.
    public static func bootstrapped(serviceName: String) -> MemoryPipeline {
        MemoryPipeline(serviceName: serviceName, environment: [:], bootstrapping: true)
    }

    private init(serviceName: String, environment: [String: String], bootstrapping: Bool) {
        let spans = InMemorySpanExporter()
        let logs = InMemoryLogOutput()
        let configure = { (configuration: inout TelemetryConfiguration) in
            configuration.tracesExporter = .custom(spans)
            configuration.logOutput = logs
            configuration.scrapeListener = nil
            configuration.processMetrics = false
        }
        if bootstrapping {
            self.telemetry = Telemetry.bootstrap(serviceName: serviceName, environment: environment, configure: configure)
        } else {
            var configuration = TelemetryConfiguration(serviceName: serviceName, environment: environment)
            configure(&configuration)
            self.telemetry = Telemetry(configuration: configuration)
        }
        self.spans = spans
        self.logs = logs
    }

    /// The registry in Prometheus text.
    public var exposition: String {
        String(decoding: self.telemetry.registry.render(format: .prometheusText), as: UTF8.self)
    }

    /// The spans exported so far (after a flush).
    public func flushedSpans() async -> [SpanRecord] {
        await self.telemetry.forceFlush()
        return self.spans.exportedSpans
    }

    /// The value of the series written exactly as `series` in the exposition, if present.
    public func value(_ series: String) -> Double? {
        for line in self.exposition.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }
}
