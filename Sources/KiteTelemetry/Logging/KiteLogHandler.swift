import Instrumentation
import Logging

/// A swift-log `LogHandler` that writes structured lines, logfmt or JSON, through a non-blocking
/// ``LogSink``.
///
/// Each line carries `ts` (RFC 3339, UTC), `level`, `msg`, `source` (the logging module), `label`
/// (the logger's label), `error` when the event has one, the metadata (handler, provider, then the
/// call's own, later ones winning), and `trace_id`/`span_id` of the current span when the task
/// runs inside one:
///
/// ```
/// ts=2026-11-25T19:35:23.123456Z level=info msg="request served" source=stringsvc label=kite endpoint=uppercase trace_id=… span_id=…
/// ```
///
/// With a ``BatchLogRecordProcessor`` (OTLP logs), each event is also handed to it as a
/// ``LogRecord``; `writesLines: false` leaves the lines out (`OTEL_LOGS_EXPORTER=otlp` alone).
public struct KiteLogHandler: LogHandler {
    /// The logger label, written as `label`.
    public let label: String
    /// logfmt or JSON.
    public let format: LogFormat
    /// Where lines go.
    public let sink: LogSink
    /// Whether `trace_id` and `span_id` of the current span are added.
    public let traceCorrelation: Bool
    /// Whether lines are written to ``sink``.
    public let writesLines: Bool
    /// Where records go for export, if anywhere.
    public let recordProcessor: BatchLogRecordProcessor?

    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:] {
        didSet { self.metadataHoldsStringConvertible = self.metadata.values.contains { $0.holdsStringConvertible } }
    }
    /// Whether ``metadata`` holds a value described only when logged (decided once per change,
    /// not per line).
    private var metadataHoldsStringConvertible = false
    public var metadataProvider: Logger.MetadataProvider?

    /// Creates a handler.
    /// - Parameters:
    ///   - label: The logger's label.
    ///   - sink: The buffer lines go through.
    ///   - format: logfmt (default) or JSON.
    ///   - logLevel: The lowest level written. Default `.info`.
    ///   - traceCorrelation: Add `trace_id`/`span_id` from the task's `ServiceContext`. Default `true`.
    ///   - metadataProvider: Metadata added to every line.
    ///   - writesLines: Write lines to `sink`. Default `true`.
    ///   - recordProcessor: Where to hand each event as a record for export. Default none.
    public init(
        label: String,
        sink: LogSink,
        format: LogFormat = .logfmt,
        logLevel: Logger.Level = .info,
        traceCorrelation: Bool = true,
        metadataProvider: Logger.MetadataProvider? = nil,
        writesLines: Bool = true,
        recordProcessor: BatchLogRecordProcessor? = nil
    ) {
        self.label = label
        self.sink = sink
        self.format = format
        self.logLevel = logLevel
        self.traceCorrelation = traceCorrelation
        self.metadataProvider = metadataProvider
        self.writesLines = writesLines
        self.recordProcessor = recordProcessor
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let timestamp = UTCTimestamp.nowNanoseconds()
        let spanContext = self.traceCorrelation ? ServiceContext.current?.spanContext : nil
        let provided = self.metadataProvider?.get() ?? [:]
        let eventMetadata = event.metadata ?? [:]
        let source = event.source
        let message = event.message.description
        let error = event.error.map { String(describing: $0) }

        if let recordProcessor = self.recordProcessor {
            var merged = self.metadata
            merged.merge(provided) { $1 }
            merged.merge(eventMetadata) { $1 }
            recordProcessor.add(
                LogRecord(
                    timestampNanoseconds: timestamp,
                    level: event.level,
                    message: message,
                    label: self.label,
                    source: source,
                    metadata: merged,
                    error: error,
                    spanContext: spanContext,
                    file: event.file,
                    function: event.function,
                    line: event.line
                )
            )
        }
        guard self.writesLines else { return }
        // Descriptions are taken here, outside the sink's lock: a `description` that logs would
        // otherwise wait for the lock its own line holds.
        let handlerMetadata = self.metadataHoldsStringConvertible ? Self.describingValues(self.metadata) : self.metadata
        let providedMetadata = Self.describingValues(provided)
        let callMetadata = Self.describingValues(eventMetadata)
        self.sink.append { buffer in
            var line = LogLineWriter(format: self.format)
            line.begin(&buffer)
            line.plainField("ts", &buffer) { UTCTimestamp.appendRFC3339(timestamp, to: &$0) }
            line.plainField("level", &buffer) { $0.append(contentsOf: event.level.rawValue.utf8) }
            line.fixedField("msg", message, &buffer)
            line.fixedField("source", source, &buffer)
            line.fixedField("label", self.label, &buffer)
            if let error { line.fixedField("error", error, &buffer) }
            Self.forEachMetadata(handlerMetadata, providedMetadata, callMetadata) { key, value in
                line.field(key, value, &buffer)
            }
            if let spanContext {
                line.plainField("trace_id", &buffer) { Hex.append(spanContext.traceID, to: &$0) }
                line.plainField("span_id", &buffer) { Hex.append(spanContext.spanID, to: &$0) }
            }
            line.end(&buffer)
        }
    }

    /// `metadata` with every string-convertible value (nested ones too) replaced by its
    /// description; `metadata` itself, without a copy, when it holds none.
    static func describingValues(_ metadata: Logger.Metadata) -> Logger.Metadata {
        // The common case — plain strings — costs one check per value and no copy.
        for value in metadata.values {
            if case .string = value { continue }
            if value.holdsStringConvertible { return metadata.mapValues { $0.describingValues } }
        }
        return metadata
    }

    /// Visits the merged metadata without building a merged dictionary in the common cases
    /// (at most one of the three is non-empty, or no provider).
    private static func forEachMetadata(
        _ handler: Logger.Metadata,
        _ provided: Logger.Metadata,
        _ event: Logger.Metadata,
        _ body: (String, Logger.MetadataValue) -> Void
    ) {
        if provided.isEmpty {
            for (key, value) in handler where event[key] == nil { body(key, value) }
            for (key, value) in event { body(key, value) }
        } else {
            var merged = handler
            merged.merge(provided) { $1 }
            merged.merge(event) { $1 }
            for (key, value) in merged { body(key, value) }
        }
    }
}

extension Logger.MetadataProvider {
    /// Adds `trace_id` and `span_id` of the current span, for log handlers other than
    /// ``KiteLogHandler`` (which reads them itself).
    public static let kiteTraceCorrelation = Logger.MetadataProvider {
        guard let spanContext = ServiceContext.current?.spanContext else { return [:] }
        return ["trace_id": "\(spanContext.traceID)", "span_id": "\(spanContext.spanID)"]
    }
}

extension Logger.MetadataValue {
    /// Whether this value, or one nested in it, is `.stringConvertible`.
    var holdsStringConvertible: Bool {
        switch self {
        case .string: false
        case .stringConvertible: true
        case .array(let values): values.contains(where: \.holdsStringConvertible)
        case .dictionary(let values): values.values.contains(where: \.holdsStringConvertible)
        }
    }

    /// This value with every `.stringConvertible` replaced by its description.
    var describingValues: Logger.MetadataValue {
        switch self {
        case .string: self
        case .stringConvertible(let convertible): .string(convertible.description)
        case .array(let values): .array(values.map(\.describingValues))
        case .dictionary(let values): .dictionary(values.mapValues(\.describingValues))
        }
    }
}
