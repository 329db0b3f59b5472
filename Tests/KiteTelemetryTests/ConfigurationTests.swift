import KiteTelemetry
import Logging
import Testing

@Suite("Configuration from OTEL_* variables")
struct ConfigurationTests {
    @Test("defaults")
    func defaults() {
        let configuration = TelemetryConfiguration(serviceName: "svc", environment: [:])
        #expect(configuration.serviceName == "svc")
        #expect(configuration.sampler.description == "ParentBased{root:AlwaysOnSampler}")
        #expect(configuration.propagators.count == 2)
        #expect(configuration.scrapeListener == PrometheusScrapeServer.Configuration(host: "localhost", port: 9464))
        #expect(configuration.batchSpanProcessor.maxQueueSize == 2048)
        #expect(configuration.batchSpanProcessor.scheduleDelay == .seconds(5))
        #expect(configuration.metrics.maxSeriesPerMetric == 10_000)
        #expect(configuration.logLevel == .info)
        #expect(configuration.logFormat == .logfmt)
        #expect(configuration.warnings.isEmpty)
    }

    @Test("every variable applies")
    func variables() {
        let configuration = TelemetryConfiguration(serviceName: "svc", environment: [
            "OTEL_SERVICE_NAME": "orders",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod,team=a%20b",
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0.1",
            "OTEL_PROPAGATORS": "b3multi,tracecontext",
            "OTEL_TRACES_EXPORTER": "console",
            "OTEL_EXPORTER_PROMETHEUS_HOST": "127.0.0.1",
            "OTEL_EXPORTER_PROMETHEUS_PORT": "0",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            "OTEL_BSP_MAX_QUEUE_SIZE": "100",
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "1000",
            "OTEL_SPAN_EVENT_COUNT_LIMIT": "5",
            "OTEL_LOG_LEVEL": "warn",
            "KITE_LOG_LEVEL": "debug",
            "KITE_LOG_FORMAT": "json",
            "KITE_METRICS_MAX_SERIES": "50",
        ])
        #expect(configuration.serviceName == "orders")
        #expect(configuration.resourceAttributes == ["deployment.environment": "prod", "team": "a b"])
        #expect(configuration.sampler.description == "ParentBased{root:TraceIdRatioBased{0.1}}")
        #expect(configuration.propagators.first is B3Propagator)
        #expect(configuration.propagators.last is W3CTraceContextPropagator)
        if case .console = configuration.tracesExporter {} else { Issue.record("expected console exporter") }
        #expect(configuration.scrapeListener?.host == "127.0.0.1")
        #expect(configuration.scrapeListener?.port == 0)
        #expect(configuration.batchSpanProcessor.scheduleDelay == .milliseconds(200))
        #expect(configuration.batchSpanProcessor.maxQueueSize == 100)
        #expect(configuration.batchSpanProcessor.maxExportBatchSize == 100, "batch size is capped by the queue size")
        #expect(configuration.spanLimits.maxEvents == 5)
        #expect(configuration.internalLogLevel == .warning)
        #expect(configuration.logLevel == .debug)
        #expect(configuration.logFormat == .json)
        #expect(configuration.metrics.maxSeriesPerMetric == 50)
        #expect(configuration.warnings.isEmpty, "\(configuration.warnings)")
    }

    @Test("bad values keep the default and are reported")
    func badValues() {
        let configuration = TelemetryConfiguration(serviceName: "svc", environment: [
            "OTEL_TRACES_SAMPLER": "sometimes",
            "OTEL_TRACES_SAMPLER_ARG": "2",
            "OTEL_BSP_MAX_QUEUE_SIZE": "-1",
            "KITE_LOG_LEVEL": "loud",
            "OTEL_METRICS_EXPORTER": "none",
        ])
        #expect(configuration.sampler.description == "ParentBased{root:AlwaysOnSampler}")
        #expect(configuration.batchSpanProcessor.maxQueueSize == 2048)
        #expect(configuration.logLevel == .info)
        #expect(configuration.scrapeListener == nil)
        #expect(configuration.warnings.count == 4, "\(configuration.warnings)")
    }
}
