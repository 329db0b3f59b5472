import CoreMetrics
import Instrumentation
import Logging
import ServiceLifecycle
import Tracing

/// The telemetry pipeline a Kite service and its components share: a logger, a metric registry
/// (exported as a Prometheus scrape, StatsD push and OTLP push) and a tracer (exported over OTLP).
///
/// Components take a `Telemetry` in their initialisers; nothing in Kite reaches for a global.
/// ``bootstrap(serviceName:environment:configure:)`` builds one from the `OTEL_*` environment and
/// also points swift-log's `LoggingSystem`, swift-metrics' `MetricsSystem` and
/// swift-distributed-tracing's `InstrumentationSystem` at it, so libraries that use those facades
/// (Hummingbird, AsyncHTTPClient, grpc-swift) emit into the same pipeline.
///
/// `Telemetry` is a swift-service-lifecycle `Service`: run it in the `ServiceGroup` with the
/// servers. It exports spans, log records and metrics in the background, serves the stand-alone
/// scrape listener and pushes StatsD when configured, and on graceful shutdown exports what is
/// left of each and flushes the log buffer.
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
    /// The resource OTLP requests carry.
    public let resource: OTLPResource
    private let spanProcessor: BatchSpanProcessor
    private let logRecordProcessor: (any LogRecordProcessor)?
    /// The OTLP log batch processor, which ``run()`` runs.
    private let batchLogRecordProcessor: BatchLogRecordProcessor?
    /// A processor spans go to directly (``TelemetryConfiguration/TracesExporter/processor(_:)``).
    private let directSpanProcessor: (any SpanProcessor)?
    private let metricExporter: OTLPMetricExporter?

    /// Builds a pipeline without touching any global system.
    public init(configuration: TelemetryConfiguration) {
        self.configuration = configuration
        let sink = LogSink(output: configuration.logOutput, capacity: configuration.logBufferCapacity)
        self.logSink = sink
        let internalLogger = Self.makeLogger(label: "kite.telemetry", sink: sink, configuration: configuration, records: nil)
        let registry = MetricRegistry(configuration: configuration.metrics, logger: internalLogger)
        self.registry = registry
        self.metricsFactory = KiteMetricsFactory(registry: registry)
        self.scrapeHandler = PrometheusScrapeHandler(registry: registry)
        if configuration.processMetrics {
            ProcessMetrics.register(in: registry)
        }

        let resource = OTLPResource(serviceName: configuration.serviceName, attributes: configuration.resourceAttributes)
        self.resource = resource
        // The OTLP exporters log their delivery problems through lines only, never through OTLP.
        let otlpLogger = Self.makeLogger(label: "kite.otlp", sink: sink, configuration: configuration, records: nil)
        let exporter: (any SpanExporter)?
        var direct: (any SpanProcessor)?
        switch configuration.tracesExporter {
        case .none: exporter = nil
        case .processor(let processor):
            exporter = nil
            direct = processor
        case .console:
            // Written as each span ends, not batched: see `ConsoleSpanProcessor`.
            exporter = nil
            direct = ConsoleSpanProcessor(sink: sink, format: configuration.logFormat)
        case .otlp:
            exporter = OTLPSpanExporter(
                configuration: configuration.otlp,
                resource: resource,
                limits: configuration.spanLimits,
                registry: registry,
                logger: otlpLogger
            )
        case .custom(let custom): exporter = custom
        }
        self.metricExporter = configuration.otlpMetrics
            ? OTLPMetricExporter(configuration: configuration.otlp, resource: resource, registry: registry, logger: otlpLogger)
            : nil
        let batchRecords = configuration.otlpLogs && configuration.logRecordProcessor == nil
            ? BatchLogRecordProcessor(
                exporter: OTLPLogRecordExporter(configuration: configuration.otlp, resource: resource, registry: registry, logger: otlpLogger),
                configuration: configuration.otlp.logRecordBatch,
                registry: registry
            )
            : nil
        self.batchLogRecordProcessor = batchRecords
        let records = configuration.logRecordProcessor ?? batchRecords
        self.logRecordProcessor = records
        self.directSpanProcessor = direct
        self.spanProcessor = BatchSpanProcessor(
            exporter: exporter ?? DiscardingSpanExporter(),
            configuration: configuration.batchSpanProcessor,
            registry: registry
        )
        self.tracer = KiteTracer(
            sampler: configuration.sampler,
            // Without an exporter, spans record nothing: no attributes kept, nothing queued.
            processor: direct ?? (exporter == nil ? nil : self.spanProcessor),
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

        self.logger = Self.makeLogger(label: configuration.serviceName, sink: sink, configuration: configuration, records: records)
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
        let records = self.logRecordProcessor
        LoggingSystem.bootstrap({ label, provider in
            Self.makeHandler(label: label, sink: sink, configuration: configuration, records: records, metadataProvider: provider)
        }, metadataProvider: nil)
        MetricsSystem.bootstrap(self.metricsFactory)
        InstrumentationSystem.bootstrap(self.tracer)
    }

    /// A logger writing into this pipeline. Labels starting with `kite.` get Kite's internal level.
    public func makeLogger(label: String) -> Logger {
        Self.makeLogger(label: label, sink: self.logSink, configuration: self.configuration, records: self.logRecordProcessor)
    }

    private static func makeLogger(
        label: String,
        sink: LogSink,
        configuration: TelemetryConfiguration,
        records: (any LogRecordProcessor)?
    ) -> Logger {
        Logger(label: label) { label in
            Self.makeHandler(label: label, sink: sink, configuration: configuration, records: records, metadataProvider: nil)
        }
    }

    private static func makeHandler(
        label: String,
        sink: LogSink,
        configuration: TelemetryConfiguration,
        records: (any LogRecordProcessor)?,
        metadataProvider: Logger.MetadataProvider?
    ) -> KiteLogHandler {
        KiteLogHandler(
            label: label,
            sink: sink,
            format: configuration.logFormat,
            logLevel: label.hasPrefix("kite.") ? configuration.internalLogLevel : configuration.logLevel,
            metadataProvider: metadataProvider,
            // Kite's own lines are always written: they are how a broken exporter is noticed.
            writesLines: configuration.logLines || label.hasPrefix("kite."),
            recordProcessor: records
        )
    }

    /// Exports the spans and log records waiting, pushes the metrics over OTLP when that is on,
    /// and writes the log lines buffered so far.
    public func forceFlush() async {
        await self.spanProcessor.forceFlush()
        await self.directSpanProcessor?.forceFlush()
        await self.logRecordProcessor?.forceFlush()
        await self.metricExporter?.export()
        self.logSink.flush()
    }

    /// Exports what is waiting (as ``forceFlush()``) and stops the log sink's writer thread: the
    /// end of this pipeline. Lines logged later are dropped (and counted); metrics keep working.
    /// ``run()`` ends this way too; a pipeline that never runs (a test's, a command-line tool's)
    /// calls it when done, so that its thread does not outlive it.
    public func shutdown() async {
        await self.forceFlush()
        await self.logSink.shutdownGracefully()
    }

    /// Runs the span processor (and the scrape listener when configured) until graceful shutdown,
    /// then exports what is left and stops the log sink (``shutdown()``).
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
            if let batchLogRecordProcessor = self.batchLogRecordProcessor {
                group.addTask { try await batchLogRecordProcessor.run() }
            }
            if let metricExporter = self.metricExporter {
                group.addTask { try await metricExporter.run() }
            }
        }
        await self.logSink.shutdownGracefully()
    }
}

/// Throws spans away (when no traces exporter is configured).
struct DiscardingSpanExporter: SpanExporter {
    func export(_ batch: [SpanRecord]) async throws {}
}
