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
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "50",
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
        #expect(configuration.batchSpanProcessor.maxExportBatchSize == 50)
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

    @Test("OTLP: an endpoint alone turns the three exporters on; the exporter variables override")
    func otlpDefaults() {
        let off = TelemetryConfiguration(serviceName: "svc", environment: [:])
        guard case .none = off.tracesExporter else { Issue.record("traces exporter should be none"); return }
        #expect(!off.otlpMetrics && !off.otlpLogs && off.logLines)

        let on = TelemetryConfiguration(serviceName: "svc", environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"])
        guard case .otlp = on.tracesExporter else { Issue.record("traces exporter should be otlp"); return }
        #expect(on.otlpMetrics && on.otlpLogs && on.logLines)
        #expect(on.scrapeListener != nil)
        #expect(on.otlp.traces.url == "http://collector:4318/v1/traces")
        #expect(on.otlp.metrics.url == "http://collector:4318/v1/metrics")
        #expect(on.otlp.logs.url == "http://collector:4318/v1/logs")

        let chosen = TelemetryConfiguration(serviceName: "svc", environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_LOGS_EXPORTER": "otlp",
        ])
        guard case .none = chosen.tracesExporter else { Issue.record("traces exporter should be none"); return }
        #expect(chosen.otlpMetrics && chosen.scrapeListener == nil)
        #expect(chosen.otlpLogs && !chosen.logLines)
    }

    @Test("OTLP: per-signal endpoints, headers, timeouts, compression, temporality, intervals, log batches, limits")
    func otlpVariables() {
        let configuration = TelemetryConfiguration(serviceName: "svc", environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://traces.example/ingest",
            "OTEL_EXPORTER_OTLP_HEADERS": "api-key=a%3Db,tenant=t1",
            "OTEL_EXPORTER_OTLP_LOGS_HEADERS": "x-logs=1",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
            "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT": "700",
            "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
            "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION": "none",
            "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "Delta",
            "OTEL_METRIC_EXPORT_INTERVAL": "1500",
            "OTEL_METRIC_EXPORT_TIMEOUT": "900",
            "OTEL_BLRP_SCHEDULE_DELAY": "50",
            "OTEL_BLRP_MAX_QUEUE_SIZE": "64",
            "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE": "16",
            "OTEL_BLRP_EXPORT_TIMEOUT": "3000",
            "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "99",
            "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT": "3",
            "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT": "4",
        ])
        let otlp = configuration.otlp
        #expect(otlp.traces.url == "https://traces.example/ingest")
        #expect(otlp.metrics.url == "http://collector:4318/v1/metrics")
        #expect(otlp.traces.headers.map { "\($0.name)=\($0.value)" } == ["api-key=a=b", "tenant=t1"])
        #expect(otlp.logs.headers.map { "\($0.name)=\($0.value)" } == ["api-key=a=b", "tenant=t1", "x-logs=1"])
        #expect(otlp.traces.timeout == .milliseconds(2500) && otlp.metrics.timeout == .milliseconds(700))
        #expect(otlp.traces.compression == .gzip && otlp.logs.compression == .none)
        #expect(otlp.temporality == .delta)
        #expect(otlp.metricExportInterval == .milliseconds(1500) && otlp.metricExportTimeout == .milliseconds(900))
        #expect(otlp.logRecordBatch == BatchConfiguration(maxQueueSize: 64, maxExportBatchSize: 16, scheduleDelay: .milliseconds(50), exportTimeout: .seconds(3)))
        #expect(configuration.spanLimits.maxAttributeValueLength == 99)
        #expect(configuration.spanLimits.maxAttributesPerEvent == 3 && configuration.spanLimits.maxAttributesPerLink == 4)
        #expect(configuration.warnings.isEmpty, "\(configuration.warnings)")
    }

    @Test("OTLP: unusable values keep the default and are reported")
    func otlpWarnings() {
        let configuration = TelemetryConfiguration(serviceName: "svc", environment: [
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_COMPRESSION": "zstd",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "soon",
            "OTEL_EXPORTER_OTLP_HEADERS": "novalue",
            "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "sideways",
            "OTEL_LOGS_EXPORTER": "syslog",
        ])
        #expect(configuration.otlp.traces.compression == .none)
        #expect(configuration.otlp.traces.timeout == .seconds(10))
        #expect(configuration.otlp.temporality == .cumulative)
        let warnings = configuration.warnings.joined(separator: "\n")
        for name in ["OTEL_EXPORTER_OTLP_PROTOCOL=grpc", "OTEL_EXPORTER_OTLP_COMPRESSION=zstd", "OTEL_EXPORTER_OTLP_TIMEOUT=soon",
                     "novalue", "sideways", "syslog"] {
            #expect(warnings.contains(name), "no warning about \(name)")
        }
        #expect(configuration.warnings.count == 6, "\(configuration.warnings)")
    }

    @Test(
        "absurd values are refused with one warning naming the variable, the value and the value used",
        arguments: [
            ("KITE_METRICS_MAX_SERIES", "0", "using 10000"),
            ("OTEL_BSP_SCHEDULE_DELAY", "0", "using 5000"),
            ("OTEL_BLRP_SCHEDULE_DELAY", "0", "using 1000"),
            ("OTEL_BSP_EXPORT_TIMEOUT", "0", "using 30000"),
            ("OTEL_METRIC_EXPORT_TIMEOUT", "0", "using 30000"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "0", "using 60000"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "10000000000000", "using 10000"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "99999999999999999999", "using 10000"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "1000000000", "using 2048"),
            ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "1000000000", "using 512"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4096", "using 512"),
            ("OTEL_EXPORTER_PROMETHEUS_PORT", "99999", "using 9464"),
            ("OTEL_EXPORTER_PROMETHEUS_PORT", "-1", "using 9464"),
            ("OTEL_SPAN_LINK_COUNT_LIMIT", "-3", "using 128"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "not-a-url", "ignored"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://[::1", "ignored"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector:4318", "ignored"),
            ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://collector:70000/v1/logs", "ignored"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api key=abc", "ignored"),
            ("KITE_STATSD_FLUSH_INTERVAL", "0", "using 1000"),
            ("KITE_STATSD_MAX_PACKET", "70000", "using 1432"),
        ]
    )
    func absurdValues(name: String, value: String, replacement: String) {
        var environment = [name: value]
        if name.hasPrefix("KITE_STATSD_") { environment["KITE_STATSD_ADDRESS"] = "127.0.0.1:8125" }
        let configuration = TelemetryConfiguration(serviceName: "svc", environment: environment)
        #expect(configuration.warnings.count == 1, "\(configuration.warnings)")
        let warning = configuration.warnings.first ?? ""
        #expect(warning.hasPrefix("\(name)") && warning.contains(value) && warning.hasSuffix(replacement), "\(warning)")
        // What is used instead is what the defaults give.
        let defaults = TelemetryConfiguration(serviceName: "svc", environment: name.hasPrefix("KITE_STATSD_") ? ["KITE_STATSD_ADDRESS": "127.0.0.1:8125"] : [:])
        #expect(configuration.batchSpanProcessor == defaults.batchSpanProcessor)
        #expect(configuration.otlp.logRecordBatch == defaults.otlp.logRecordBatch)
        #expect(configuration.otlp.traces.url == defaults.otlp.traces.url && configuration.otlp.logs.url == defaults.otlp.logs.url)
        #expect(configuration.otlp.traces.timeout == defaults.otlp.traces.timeout)
        #expect(configuration.otlp.traces.headers.isEmpty)
        #expect(configuration.otlp.metricExportTimeout == defaults.otlp.metricExportTimeout)
        #expect(configuration.otlp.metricExportInterval == defaults.otlp.metricExportInterval)
        #expect(configuration.scrapeListener == defaults.scrapeListener)
        #expect(configuration.metrics.maxSeriesPerMetric == defaults.metrics.maxSeriesPerMetric)
        #expect(configuration.spanLimits == defaults.spanLimits)
        #expect(configuration.statsd == defaults.statsd)
        // A rejected endpoint does not turn the OTLP exporters on.
        #expect(configuration.otlpMetrics == defaults.otlpMetrics && configuration.otlpLogs == defaults.otlpLogs)
    }

    @Test("usable edge values are taken without a warning")
    func edgeValues() {
        let configuration = TelemetryConfiguration(serviceName: "svc", environment: [
            "OTEL_EXPORTER_PROMETHEUS_PORT": "65535",
            "OTEL_BSP_MAX_QUEUE_SIZE": "1048576",
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "1048576",
            "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT": "0",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://[::1]:4318",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "86400000",
            "KITE_METRICS_MAX_SERIES": "1",
        ])
        #expect(configuration.warnings.isEmpty, "\(configuration.warnings)")
        #expect(configuration.scrapeListener?.port == 65535)
        #expect(configuration.batchSpanProcessor.maxQueueSize == 1 << 20 && configuration.batchSpanProcessor.maxExportBatchSize == 1 << 20)
        #expect(configuration.spanLimits.maxAttributeValueLength == 0)
        #expect(configuration.otlp.traces.url == "http://[::1]:4318/v1/traces")
        #expect(configuration.otlp.traces.timeout == .seconds(86_400))
        #expect(configuration.metrics.maxSeriesPerMetric == 1)
    }
}
