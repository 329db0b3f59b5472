/// Where and how the OTLP exporters send, with the defaults and `OTEL_EXPORTER_OTLP_*` variables
/// of the OpenTelemetry specification (protocol `http/protobuf`, the only one Kite speaks).
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `OTEL_EXPORTER_OTLP_ENDPOINT` | `http://localhost:4318` | base URL; `/v1/traces`, `/v1/metrics`, `/v1/logs` are appended |
/// | `OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT` | — | one signal's full URL, used as given |
/// | `OTEL_EXPORTER_OTLP_HEADERS`, `…_{SIGNAL}_HEADERS` | — | `k=v,k2=v2`, values percent-encoded |
/// | `OTEL_EXPORTER_OTLP_TIMEOUT`, `…_{SIGNAL}_TIMEOUT` | `10000` | ms one export may take, retries included |
/// | `OTEL_EXPORTER_OTLP_COMPRESSION`, `…_{SIGNAL}_COMPRESSION` | `none` | `gzip` or `none` |
/// | `OTEL_EXPORTER_OTLP_PROTOCOL`, `…_{SIGNAL}_PROTOCOL` | `http/protobuf` | anything else is refused with a warning |
/// | `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` | `cumulative` | `cumulative` or `delta` (`lowmemory` is read as `delta`) |
/// | `OTEL_METRIC_EXPORT_INTERVAL` | `60000` | ms between metric exports |
/// | `OTEL_METRIC_EXPORT_TIMEOUT` | `30000` | ms one metric export may take |
/// | `OTEL_BLRP_SCHEDULE_DELAY` | `1000` | ms between log record exports |
/// | `OTEL_BLRP_EXPORT_TIMEOUT` | `30000` | ms one log record export may take (to OTLP: the shorter of this and the OTLP timeout) |
/// | `OTEL_BLRP_MAX_QUEUE_SIZE` | `2048` | log records waiting before the oldest are dropped |
/// | `OTEL_BLRP_MAX_EXPORT_BATCH_SIZE` | `512` | log records per export |
public struct OTLPExporterConfiguration: Sendable {
    /// The three OTLP signals.
    public enum Signal: String, Sendable, CaseIterable {
        case traces
        case metrics
        case logs

        /// The path appended to a base endpoint.
        public var path: String { "/v1/\(self.rawValue)" }
    }

    /// Request body compression.
    public enum Compression: String, Sendable {
        case none
        case gzip
    }

    /// Where one signal goes.
    public struct Destination: Sendable {
        /// The full URL requests are POSTed to.
        public var url: String
        /// Extra request headers (authentication, tenant).
        public var headers: [(name: String, value: String)]
        /// How long one export may take, retries included.
        public var timeout: Duration
        /// Body compression.
        public var compression: Compression

        /// Creates a destination.
        public init(url: String, headers: [(name: String, value: String)] = [], timeout: Duration = .seconds(10), compression: Compression = .none) {
            self.url = url
            self.headers = headers
            self.timeout = timeout
            self.compression = compression
        }
    }

    /// When a failed request is tried again: on 429, 502, 503, 504 and connection errors, after
    /// the collector's `Retry-After` when it sends one, otherwise after an exponential backoff
    /// with jitter (a random time between half and all of `initialBackoff × 2^attempt`, at most
    /// `maxBackoff`), as long as the destination's timeout allows.
    public struct RetryPolicy: Sendable, Hashable {
        /// The first backoff. Default 250 ms.
        public var initialBackoff: Duration
        /// The longest backoff. Default 5 s.
        public var maxBackoff: Duration

        /// Creates a policy.
        public init(initialBackoff: Duration = .milliseconds(250), maxBackoff: Duration = .seconds(5)) {
            self.initialBackoff = initialBackoff
            self.maxBackoff = maxBackoff
        }
    }

    /// Traces.
    public var traces: Destination
    /// Metrics.
    public var metrics: Destination
    /// Logs.
    public var logs: Destination
    /// Retries.
    public var retry: RetryPolicy
    /// Cumulative (default) or delta metric points.
    public var temporality: OTLPMetricEncoder.Temporality
    /// Time between metric exports. Default 60 s.
    public var metricExportInterval: Duration
    /// Time one metric export may take. Default 30 s.
    public var metricExportTimeout: Duration
    /// The batch log record processor's settings (defaults: queue 2048, batch 512, every 1 s,
    /// timeout 30 s).
    public var logRecordBatch: BatchConfiguration

    /// Sends every signal to `endpoint` (a base URL, the signal's path appended).
    public init(endpoint: String = "http://localhost:4318") {
        let base = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        self.traces = Destination(url: base + Signal.traces.path)
        self.metrics = Destination(url: base + Signal.metrics.path)
        self.logs = Destination(url: base + Signal.logs.path)
        self.retry = RetryPolicy()
        self.temporality = .cumulative
        self.metricExportInterval = .seconds(60)
        self.metricExportTimeout = .seconds(30)
        self.logRecordBatch = BatchConfiguration(scheduleDelay: .seconds(1))
    }

    /// One signal's destination.
    public subscript(signal: Signal) -> Destination {
        get {
            switch signal {
            case .traces: self.traces
            case .metrics: self.metrics
            case .logs: self.logs
            }
        }
        set {
            switch signal {
            case .traces: self.traces = newValue
            case .metrics: self.metrics = newValue
            case .logs: self.logs = newValue
            }
        }
    }

    /// Whether the environment names a usable OTLP endpoint (general or for `signal`).
    static func endpointIsSet(in reader: EnvironmentReader, for signal: Signal) -> Bool {
        ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_\(signal.rawValue.uppercased())_ENDPOINT"].contains { name in
            reader.value(name).map { Self.problem(withURL: $0) == nil } ?? false
        }
    }

    /// Why `url` cannot be an OTLP/HTTP endpoint, or `nil` when it can: it must be an `http://`
    /// or `https://` URL with a host (a bracketed IPv6 address is closed) and, if any, a port in
    /// 0…65535, without spaces or control characters.
    static func problem(withURL url: String) -> String? {
        do {
            _ = try OTLPURL(url)
            return nil
        } catch {
            return error.text
        }
    }

    /// Whether `name` is an HTTP field name (a token of RFC 9110's `tchar`s).
    static func isHeaderName(_ name: Substring) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                true
            default:
                "!#$%&'*+-.^_`|~".utf8.contains(byte)
            }
        }
    }

    /// Whether `value` can be sent as an HTTP field value: no control characters but tab.
    static func isHeaderValue(_ value: String) -> Bool {
        !value.utf8.contains { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }
    }

    /// The configuration the environment describes; unusable values keep their default and are
    /// noted as warnings.
    static func fromEnvironment(_ reader: inout EnvironmentReader) -> OTLPExporterConfiguration {
        func value(_ name: String) -> String? { reader.value(name) }
        func url(_ name: String) -> String? {
            guard let raw = value(name) else { return nil }
            if let problem = Self.problem(withURL: raw) {
                reader.warn("\(name)=\(raw) is not \(problem); ignored")
                return nil
            }
            return raw
        }
        func headers(_ name: String) -> [(name: String, value: String)]? {
            guard let raw = value(name) else { return nil }
            var parsed: [(name: String, value: String)] = []
            for member in raw.split(separator: ",") {
                let parts = member.split(separator: "=", maxSplits: 1)
                let key = parts.first?.trimmingSpaces() ?? ""
                guard parts.count == 2, Self.isHeaderName(key),
                    let decoded = W3CBaggagePropagator.percentDecode(parts[1].trimmingSpaces(), allowing: { _ in true }),
                    Self.isHeaderValue(decoded)
                else {
                    reader.warn("\(name) member \(member) is not name=value with a valid header name and value; ignored")
                    continue
                }
                parsed.append((name: String(key), value: decoded))
            }
            return parsed
        }

        var configuration = OTLPExporterConfiguration(endpoint: url("OTEL_EXPORTER_OTLP_ENDPOINT") ?? "http://localhost:4318")
        let generalHeaders = headers("OTEL_EXPORTER_OTLP_HEADERS") ?? []
        let generalTimeout = reader.milliseconds("OTEL_EXPORTER_OTLP_TIMEOUT", default: .seconds(10))
        func compression(_ name: String) -> Compression? {
            guard let raw = value(name) else { return nil }
            guard let parsed = Compression(rawValue: raw.lowercased()) else {
                reader.reject(name, raw, expected: "gzip or none", using: "none")
                return nil
            }
            return parsed
        }
        func checkProtocol(_ name: String) {
            if let raw = value(name), raw != "http/protobuf" {
                reader.reject(name, raw, expected: "supported", using: "http/protobuf")
            }
        }
        let generalCompression = compression("OTEL_EXPORTER_OTLP_COMPRESSION") ?? .none
        checkProtocol("OTEL_EXPORTER_OTLP_PROTOCOL")
        for signal in Signal.allCases {
            let prefix = "OTEL_EXPORTER_OTLP_\(signal.rawValue.uppercased())_"
            var destination = configuration[signal]
            if let url = url(prefix + "ENDPOINT") { destination.url = url }
            destination.headers = generalHeaders + (headers(prefix + "HEADERS") ?? [])
            destination.timeout = reader.milliseconds(prefix + "TIMEOUT", default: generalTimeout)
            destination.compression = compression(prefix + "COMPRESSION") ?? generalCompression
            checkProtocol(prefix + "PROTOCOL")
            configuration[signal] = destination
        }
        if let raw = value("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE") {
            switch raw.lowercased() {
            case "cumulative": configuration.temporality = .cumulative
            case "delta", "lowmemory": configuration.temporality = .delta
            default: reader.reject("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", raw, expected: "cumulative or delta", using: "cumulative")
            }
        }
        configuration.metricExportInterval = reader.milliseconds("OTEL_METRIC_EXPORT_INTERVAL", default: configuration.metricExportInterval)
        configuration.metricExportTimeout = reader.milliseconds("OTEL_METRIC_EXPORT_TIMEOUT", default: configuration.metricExportTimeout)
        configuration.logRecordBatch = BatchConfiguration.fromEnvironment(&reader, prefix: "OTEL_BLRP_", defaults: configuration.logRecordBatch)
        return configuration
    }
}
