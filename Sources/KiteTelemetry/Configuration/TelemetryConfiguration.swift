import Logging

/// Everything ``Telemetry`` is built from, with the defaults the OpenTelemetry specification gives
/// and the standard environment variables applied by ``init(serviceName:environment:)``.
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `OTEL_SERVICE_NAME` | the `serviceName` argument | `service.name` |
/// | `OTEL_RESOURCE_ATTRIBUTES` | — | `k=v,k2=v2` (percent-encoded values) added to the resource |
/// | `OTEL_TRACES_SAMPLER` | `parentbased_always_on` | `always_on`, `always_off`, `traceidratio`, `parentbased_always_on`, `parentbased_always_off`, `parentbased_traceidratio` |
/// | `OTEL_TRACES_SAMPLER_ARG` | `1.0` | the ratio of the `*traceidratio` samplers |
/// | `OTEL_PROPAGATORS` | `tracecontext,baggage` | any of `tracecontext`, `baggage`, `b3`, `b3multi`, `none` |
/// | `OTEL_TRACES_EXPORTER` | `otlp` when an OTLP endpoint is set, else `none` | `otlp`, `console` or `none` |
/// | `OTEL_METRICS_EXPORTER` | `prometheus`, plus `otlp` when an OTLP endpoint is set | any of `prometheus` (the scrape listener), `otlp`, `none` |
/// | `OTEL_LOGS_EXPORTER` | `console`, plus `otlp` when an OTLP endpoint is set | any of `console` (lines to the log output), `otlp`, `none` |
/// | `OTEL_EXPORTER_OTLP_*`, `OTEL_METRIC_EXPORT_*`, `OTEL_BLRP_*` | | see ``OTLPExporterConfiguration`` |
/// | `OTEL_EXPORTER_PROMETHEUS_HOST` | `localhost` | the scrape listener's address |
/// | `OTEL_EXPORTER_PROMETHEUS_PORT` | `9464` | the scrape listener's port (`0`: any free port) |
/// | `OTEL_BSP_SCHEDULE_DELAY` | `5000` | ms between batch exports |
/// | `OTEL_BSP_EXPORT_TIMEOUT` | `30000` | ms an export may take (to OTLP: the shorter of this and the OTLP timeout) |
/// | `OTEL_BSP_MAX_QUEUE_SIZE` | `2048` | spans waiting for export |
/// | `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` | `512` | spans per export |
/// | `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT` (or `OTEL_ATTRIBUTE_COUNT_LIMIT`), `OTEL_SPAN_EVENT_COUNT_LIMIT`, `OTEL_SPAN_LINK_COUNT_LIMIT`, `OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT`, `OTEL_LINK_ATTRIBUTE_COUNT_LIMIT` | `128` | span limits |
/// | `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT` (or `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`) | no limit | UTF-8 bytes kept of a string attribute value |
/// | `OTEL_LOG_LEVEL` | `info` | level of Kite's own loggers (labels `kite.*`) |
/// | `KITE_LOG_LEVEL` | `info` | level of the service's loggers |
/// | `KITE_LOG_FORMAT` | `logfmt` | `logfmt` or `json` |
/// | `OTEL_METRICS_EXEMPLAR_FILTER` | `trace_based` | which histogram observations leave an exemplar: `trace_based` (inside a sampled span), `always_on`, `always_off` |
/// | `KITE_METRICS_MAX_SERIES` | `10000` | series per metric before new label sets are refused |
/// | `KITE_STATSD_*` | off | StatsD push, see ``StatsDConfiguration`` |
///
/// Unparsable values are ignored (the default stays) and listed in ``warnings``, which
/// ``Telemetry`` logs at start.
public struct TelemetryConfiguration: Sendable {
    /// `service.name`.
    public var serviceName: String
    /// Resource attributes besides `service.name`.
    public var resourceAttributes: [String: String]
    /// The sampler.
    public var sampler: any Sampler
    /// Propagators, in order.
    public var propagators: [any TracePropagator]
    /// Where sampled spans go.
    public var tracesExporter: TracesExporter
    /// The batch span processor's settings.
    public var batchSpanProcessor: BatchSpanProcessor.Configuration
    /// Span limits.
    public var spanLimits: SpanLimits
    /// The metric registry's settings.
    public var metrics: MetricRegistry.Configuration
    /// The stand-alone scrape listener, or `nil` for none (mount ``PrometheusScrapeHandler`` instead).
    public var scrapeListener: PrometheusScrapeServer.Configuration?
    /// StatsD push, or `nil` for none (the default).
    public var statsd: StatsDConfiguration?
    /// Where and how the OTLP exporters send (used by those that are on).
    public var otlp: OTLPExporterConfiguration
    /// Whether metrics are pushed over OTLP.
    public var otlpMetrics: Bool
    /// Whether log records are exported over OTLP.
    public var otlpLogs: Bool
    /// Whether log lines are written to ``logOutput``. Default `true`.
    public var logLines: Bool
    /// Level of the service's loggers.
    public var logLevel: Logger.Level
    /// Level of Kite's own loggers.
    public var internalLogLevel: Logger.Level
    /// logfmt or JSON.
    public var logFormat: LogFormat
    /// Where log lines go. Default standard output.
    public var logOutput: any LogOutput
    /// Receives every log event as a record, in place of the OTLP log export (a test's memory).
    /// Default none.
    public var logRecordProcessor: (any LogRecordProcessor)?
    /// Bytes the log sink buffers before dropping lines. Default 1 MiB.
    public var logBufferCapacity: Int
    /// Whether the process metrics (`process_*`) are registered. Default `true`.
    public var processMetrics: Bool
    /// Problems found in the environment.
    public private(set) var warnings: [String] = []

    /// Where sampled spans are exported.
    public enum TracesExporter: Sendable {
        /// Nowhere (spans still propagate context).
        case none
        /// One line per span through the log sink.
        case console
        /// To an OpenTelemetry collector over OTLP/HTTP (see ``TelemetryConfiguration/otlp``).
        case otlp
        /// To this exporter, in batches.
        case custom(any SpanExporter)
        /// Straight to this processor as each span ends, with no batching (a test's memory).
        case processor(any SpanProcessor)
    }

    /// The defaults, then `environment` applied.
    /// - Parameters:
    ///   - serviceName: `service.name` unless `OTEL_SERVICE_NAME` is set.
    ///   - environment: The variables to read; default this process's.
    public init(serviceName: String, environment: [String: String] = ProcessEnvironment.current) {
        self.serviceName = serviceName
        self.resourceAttributes = [:]
        self.sampler = ParentBasedSampler(root: ConstantSampler.alwaysOn)
        self.propagators = [W3CTraceContextPropagator(), W3CBaggagePropagator()]
        self.tracesExporter = .none
        self.batchSpanProcessor = .init()
        self.spanLimits = SpanLimits()
        self.metrics = .init()
        self.scrapeListener = PrometheusScrapeServer.Configuration()
        self.statsd = nil
        self.otlp = OTLPExporterConfiguration()
        self.otlpMetrics = false
        self.otlpLogs = false
        self.logLines = true
        self.logLevel = .info
        self.internalLogLevel = .info
        self.logFormat = .logfmt
        self.logOutput = FileDescriptorLogOutput.standardOutput
        self.logBufferCapacity = 1 << 20
        self.processMetrics = true
        self.apply(environment)
    }

    /// Whether `host` can name a listening address: a host name, an IPv4 address or an IPv6
    /// address (bracketed or not).
    static func isHostName(_ host: String) -> Bool {
        var bare = Substring(host)
        if bare.hasPrefix("["), bare.hasSuffix("]") { bare = bare.dropFirst().dropLast() }
        return !bare.isEmpty && bare.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                true
            default:
                byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "_")
            }
        }
    }

    private mutating func apply(_ environment: [String: String]) {
        var reader = EnvironmentReader(environment)
        defer { self.warnings += reader.warnings }
        func value(_ name: String) -> String? { reader.value(name) }
        func level(_ name: String, default fallback: Logger.Level) -> Logger.Level {
            guard let raw = value(name) else { return fallback }
            let aliases: [String: Logger.Level] = ["warn": .warning, "fatal": .critical]
            guard let parsed = Logger.Level(rawValue: raw.lowercased()) ?? aliases[raw.lowercased()] else {
                reader.reject(name, raw, expected: "a log level", using: fallback.rawValue)
                return fallback
            }
            return parsed
        }

        if let name = value("OTEL_SERVICE_NAME") { self.serviceName = name }
        if let attributes = value("OTEL_RESOURCE_ATTRIBUTES") {
            for pair in attributes.split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, !parts[0].trimmingSpaces().isEmpty, let decoded = W3CBaggagePropagator.percentDecode(parts[1].trimmingSpaces(), allowing: { _ in true })
                else {
                    reader.warn("OTEL_RESOURCE_ATTRIBUTES member \(pair) is not key=value; ignored")
                    continue
                }
                self.resourceAttributes[String(parts[0].trimmingSpaces())] = decoded
            }
            if let name = self.resourceAttributes.removeValue(forKey: "service.name"), value("OTEL_SERVICE_NAME") == nil {
                self.serviceName = name
            }
        }

        let samplerName = value("OTEL_TRACES_SAMPLER")?.lowercased() ?? "parentbased_always_on"
        var ratio = 1.0
        if let raw = value("OTEL_TRACES_SAMPLER_ARG") {
            if let parsed = Double(raw), parsed >= 0, parsed <= 1 {
                ratio = parsed
            } else {
                reader.warn("OTEL_TRACES_SAMPLER_ARG=\(raw) is not a ratio in 0…1; using 1.0")
            }
        }
        switch samplerName {
        case "always_on": self.sampler = ConstantSampler.alwaysOn
        case "always_off": self.sampler = ConstantSampler.alwaysOff
        case "traceidratio": self.sampler = TraceIDRatioSampler(ratio: ratio)
        case "parentbased_always_on": self.sampler = ParentBasedSampler(root: ConstantSampler.alwaysOn)
        case "parentbased_always_off": self.sampler = ParentBasedSampler(root: ConstantSampler.alwaysOff)
        case "parentbased_traceidratio": self.sampler = ParentBasedSampler(root: TraceIDRatioSampler(ratio: ratio))
        default: reader.warn("OTEL_TRACES_SAMPLER=\(samplerName) is not known; using parentbased_always_on")
        }

        if let names = value("OTEL_PROPAGATORS") {
            var propagators = [any TracePropagator]()
            for name in names.split(separator: ",").map({ $0.trimmingSpaces().lowercased() }) {
                switch name {
                case "tracecontext": propagators.append(W3CTraceContextPropagator())
                case "baggage": propagators.append(W3CBaggagePropagator())
                case "b3": propagators.append(B3Propagator(encoding: .single))
                case "b3multi": propagators.append(B3Propagator(encoding: .multiple))
                case "none": break
                default: reader.warn("OTEL_PROPAGATORS member \(name) is not known; ignored")
                }
            }
            self.propagators = propagators
        }

        // Naming an OTLP endpoint turns the OTLP exporters on unless the exporter variables say
        // otherwise, so that one variable is enough to reach a collector.
        self.otlp = OTLPExporterConfiguration.fromEnvironment(&reader)
        func exporters(_ name: String, signal: OTLPExporterConfiguration.Signal, default defaults: [String], known: Set<String>) -> Set<String> {
            var names = Set(defaults)
            if OTLPExporterConfiguration.endpointIsSet(in: reader, for: signal) { names.insert("otlp") }
            guard let raw = value(name)?.lowercased() else { return names }
            let members = raw.split(separator: ",").map { String($0.trimmingSpaces()) }
            let unknown = members.filter { $0 != "none" && !known.contains($0) }
            let chosen = Set(members.filter(known.contains))
            guard chosen.isEmpty && !members.contains("none") else {
                for member in unknown { reader.warn("\(name) member \(member) is not supported; ignored") }
                return chosen
            }
            // Nothing usable was named: keep the default rather than silently exporting nothing.
            reader.reject(name, raw, expected: "any of \(known.sorted().joined(separator: ", ")) or none", using: names.isEmpty ? "none" : names.sorted().joined(separator: ","))
            return names
        }
        let traces = exporters("OTEL_TRACES_EXPORTER", signal: .traces, default: [], known: ["otlp", "console"])
        if traces.contains("otlp") {
            self.tracesExporter = .otlp
        } else if traces.contains("console") {
            self.tracesExporter = .console
        }
        let metrics = exporters("OTEL_METRICS_EXPORTER", signal: .metrics, default: ["prometheus"], known: ["otlp", "prometheus"])
        if !metrics.contains("prometheus") { self.scrapeListener = nil }
        self.otlpMetrics = metrics.contains("otlp")
        let logs = exporters("OTEL_LOGS_EXPORTER", signal: .logs, default: ["console"], known: ["otlp", "console"])
        self.logLines = logs.contains("console")
        self.otlpLogs = logs.contains("otlp")
        if self.scrapeListener != nil {
            if let host = value("OTEL_EXPORTER_PROMETHEUS_HOST") {
                if Self.isHostName(host) {
                    self.scrapeListener?.host = host
                } else {
                    reader.reject("OTEL_EXPORTER_PROMETHEUS_HOST", host, expected: "a host name or IP address", using: self.scrapeListener?.host ?? "localhost")
                }
            }
            if let port = self.scrapeListener?.port {
                self.scrapeListener?.port = reader.port("OTEL_EXPORTER_PROMETHEUS_PORT", default: port)
            }
        }

        self.batchSpanProcessor = BatchConfiguration.fromEnvironment(&reader, prefix: "OTEL_BSP_", defaults: self.batchSpanProcessor)

        let anyCount = 0...Int.max
        var limits = self.spanLimits
        let attributeCount = reader.integer("OTEL_ATTRIBUTE_COUNT_LIMIT", in: anyCount, default: limits.maxAttributes)
        limits.maxAttributes = reader.integer("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", in: anyCount, default: attributeCount)
        limits.maxEvents = reader.integer("OTEL_SPAN_EVENT_COUNT_LIMIT", in: anyCount, default: limits.maxEvents)
        limits.maxLinks = reader.integer("OTEL_SPAN_LINK_COUNT_LIMIT", in: anyCount, default: limits.maxLinks)
        limits.maxAttributesPerEvent = reader.integer("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", in: anyCount, default: limits.maxAttributesPerEvent)
        limits.maxAttributesPerLink = reader.integer("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", in: anyCount, default: limits.maxAttributesPerLink)
        let valueLength = reader.integer("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", in: anyCount, default: limits.maxAttributeValueLength)
        limits.maxAttributeValueLength = reader.integer("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", in: anyCount, default: valueLength)
        self.spanLimits = limits

        self.internalLogLevel = level("OTEL_LOG_LEVEL", default: self.internalLogLevel)
        self.logLevel = level("KITE_LOG_LEVEL", default: self.logLevel)
        if let format = value("KITE_LOG_FORMAT") {
            if let parsed = LogFormat(rawValue: format.lowercased()) {
                self.logFormat = parsed
            } else {
                reader.warn("KITE_LOG_FORMAT=\(format) is not logfmt or json; using logfmt")
            }
        }
        self.metrics.maxSeriesPerMetric = reader.integer("KITE_METRICS_MAX_SERIES", in: 1...Int.max, default: self.metrics.maxSeriesPerMetric)
        if let raw = value("OTEL_METRICS_EXEMPLAR_FILTER") {
            if let filter = ExemplarFilter(rawValue: raw.lowercased()) {
                self.metrics.exemplarFilter = filter
            } else {
                reader.reject("OTEL_METRICS_EXEMPLAR_FILTER", raw, expected: "one of trace_based, always_on, always_off", using: self.metrics.exemplarFilter.rawValue)
            }
        }
        self.statsd = StatsDConfiguration.fromEnvironment(&reader)
    }
}
