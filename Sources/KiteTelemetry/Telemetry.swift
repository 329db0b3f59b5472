import CoreMetrics
import Instrumentation
import Logging
import ServiceLifecycle
import Tracing

/// The telemetry pipeline a Kite service and its components share: a logger, a metric registry
/// (exported as a Prometheus scrape) and a tracer.
///
/// Components take a `Telemetry` in their initialisers; nothing in Kite reaches for a global.
/// ``bootstrap(serviceName:environment:configure:)`` builds one from the `OTEL_*` environment and
/// also points swift-log's `LoggingSystem`, swift-metrics' `MetricsSystem` and
/// swift-distributed-tracing's `InstrumentationSystem` at it, so libraries that use those facades
/// (Hummingbird, AsyncHTTPClient, grpc-swift) emit into the same pipeline.
///
/// `Telemetry` is a swift-service-lifecycle `Service`: run it in the `ServiceGroup` with the
/// servers. It exports spans in the background, serves the stand-alone scrape listener and pushes
/// StatsD when configured, and on graceful shutdown exports the spans left, pushes a last StatsD
/// flush and flushes the log buffer.
public struct Telemetry: Service {
    /// The configuration it was built from.
    public let configuration: TelemetryConfiguration
    /// The service's logger (label = service name).
    public let logger: Logger
    /// Every metric of the process.
    public let registry: MetricRegistry
    /// The registry as a swift-metrics backend.
    public let metricsFactory: KiteMetricsFactory
    /// The tracer.
    public let tracer: KiteTracer
    /// The buffer log lines (and console spans) go through.
    public let logSink: LogSink
    /// Answers Prometheus scrapes of ``registry``.
    public let scrapeHandler: PrometheusScrapeHandler
    private let spanProcessor: BatchSpanProcessor

    /// Builds a pipeline without touching any global system.
    public init(configuration: TelemetryConfiguration) {
        self.configuration = configuration
        let sink = LogSink(output: configuration.logOutput, capacity: configuration.logBufferCapacity)
        self.logSink = sink
        let internalLogger = Self.makeLogger(label: "kite.telemetry", sink: sink, configuration: configuration)
        let registry = MetricRegistry(configuration: configuration.metrics, logger: internalLogger)
        self.registry = registry
        self.metricsFactory = KiteMetricsFactory(registry: registry)
        self.scrapeHandler = PrometheusScrapeHandler(registry: registry)
        if configuration.processMetrics {
            ProcessMetrics.register(in: registry)
        }

        let exporter: (any SpanExporter)?
        switch configuration.tracesExporter {
        case .none: exporter = nil
        case .console: exporter = ConsoleSpanExporter(sink: sink, format: configuration.logFormat)
        case .custom(let custom): exporter = custom
        }
        self.spanProcessor = BatchSpanProcessor(
            exporter: exporter ?? DiscardingSpanExporter(),
            configuration: configuration.batchSpanProcessor,
            registry: registry
        )
        self.tracer = KiteTracer(
            sampler: configuration.sampler,
            // Without an exporter, spans record nothing: no attributes kept, nothing queued.
            processor: exporter == nil ? nil : self.spanProcessor,
            propagators: configuration.propagators,
            limits: configuration.spanLimits
        )

        let dropped = registry.counter(
            "kite_log_dropped_lines_total",
            help: "Log lines dropped because the log buffer was full."
        ).labels()
        let written = registry.counter(
            "kite_log_written_bytes_total",
            help: "Bytes of log lines handed to the log output."
        ).labels()
        registry.addCollectHook {
            dropped.set(Double(sink.droppedLines))
            written.set(Double(sink.writtenBytes))
        }

        self.logger = Self.makeLogger(label: configuration.serviceName, sink: sink, configuration: configuration)
        for warning in configuration.warnings {
            internalLogger.warning("configuration: \(warning)")
        }
    }

    /// Builds the pipeline from the environment and bootstraps the global logging, metrics and
    /// instrumentation systems to it. Call it once per process, first thing in `main`.
    /// - Parameters:
    ///   - serviceName: `service.name`, unless `OTEL_SERVICE_NAME` says otherwise.
    ///   - environment: The variables to read; default this process's.
    ///   - configure: Changes to make after the environment has been applied.
    /// - Returns: The pipeline.
    public static func bootstrap(
        serviceName: String,
        environment: [String: String] = ProcessEnvironment.current,
        configure: (inout TelemetryConfiguration) -> Void = { _ in }
    ) -> Telemetry {
        var configuration = TelemetryConfiguration(serviceName: serviceName, environment: environment)
        configure(&configuration)
        let telemetry = Telemetry(configuration: configuration)
        telemetry.bootstrapGlobalSystems()
        return telemetry
    }

    /// Points `LoggingSystem`, `MetricsSystem` and `InstrumentationSystem` at this pipeline. Each
    /// of them can be bootstrapped only once per process.
    public func bootstrapGlobalSystems() {
        let sink = self.logSink
        let configuration = self.configuration
        LoggingSystem.bootstrap({ label, provider in
            KiteLogHandler(
                label: label,
                sink: sink,
                format: configuration.logFormat,
                logLevel: label.hasPrefix("kite.") ? configuration.internalLogLevel : configuration.logLevel,
                metadataProvider: provider
            )
        }, metadataProvider: nil)
        MetricsSystem.bootstrap(self.metricsFactory)
        InstrumentationSystem.bootstrap(self.tracer)
    }

    /// A logger writing into this pipeline. Labels starting with `kite.` get Kite's internal level.
    public func makeLogger(label: String) -> Logger {
        Self.makeLogger(label: label, sink: self.logSink, configuration: self.configuration)
    }

    private static func makeLogger(label: String, sink: LogSink, configuration: TelemetryConfiguration) -> Logger {
        Logger(label: label) { label in
            KiteLogHandler(
                label: label,
                sink: sink,
                format: configuration.logFormat,
                logLevel: label.hasPrefix("kite.") ? configuration.internalLogLevel : configuration.logLevel
            )
        }
    }

    /// Exports the spans waiting and writes the log lines buffered so far.
    public func forceFlush() async {
        await self.spanProcessor.forceFlush()
        self.logSink.flush()
    }

    /// Runs the span processor (and the scrape listener when configured) until graceful shutdown,
    /// then flushes.
    public func run() async throws {
        let scrapeServer = self.configuration.scrapeListener.map {
            PrometheusScrapeServer(configuration: $0, handler: self.scrapeHandler, logger: self.makeLogger(label: "kite.prometheus"))
        }
        let statsd = self.configuration.statsd.map {
            StatsDExporter(configuration: $0, registry: self.registry, logger: self.makeLogger(label: "kite.statsd"))
        }
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await self.spanProcessor.run() }
            if let scrapeServer {
                group.addTask { try await scrapeServer.run() }
            }
            if let statsd {
                group.addTask { try await statsd.run() }
            }
        }
        self.logSink.flush()
    }
}

/// Throws spans away (when no traces exporter is configured).
struct DiscardingSpanExporter: SpanExporter {
    func export(_ batch: [SpanRecord]) async throws {}
}
