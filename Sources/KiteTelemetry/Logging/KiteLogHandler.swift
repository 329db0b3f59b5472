import Instrumentation
import Logging
import W3CTraceContext

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
/// With a ``LogRecordProcessor`` (OTLP logs, a test), each event is also handed to it as a
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
    public let recordProcessor: (any LogRecordProcessor)?

    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
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
        recordProcessor: (any LogRecordProcessor)? = nil
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
        // The line is encoded on this thread's stack with no lock held — a `description` that
        // logs cannot wait for a lock its own line holds — and copied into the sink in one go.
        withLineBuffer { bytes in
            var line = LogLineWriter(format: self.format)
            Self.startLine(&line, &bytes, timestamp: timestamp)
            self.fixedFields(&line, &bytes, level: event.level, message: message, source: source)
            if let error { line.fixedField("error", error, &bytes) }
            Self.forEachMetadata(self.metadata, provided, eventMetadata) { key, value in
                line.field(key, value, &bytes)
            }
            Self.endLine(&line, &bytes, spanContext: spanContext, sink: self.sink)
        }
    }

    /// Whether a line written from ``lineTemplate(level:message:source:constantFields:secondsKey:)`` holds everything
    /// `log(event:)` would write for the same call: lines only (no record processor), no metadata
    /// provider to ask, and none of `keys` in the handler's metadata (a call's field would replace
    /// it there).
    package func writesWholeLines(withFieldKeys keys: [String]) -> Bool {
        self.writesLines && self.recordProcessor == nil && self.metadataProvider == nil
            && keys.allSatisfy { self.metadata[$0] == nil }
    }

    /// The part of a line of Kite's own instrumentation that is the same on every call — `level`,
    /// `msg`, `source`, `label`, this handler's metadata and `constantFields` — encoded once and
    /// registered with the sink: ``LogLineTemplate/write(timestamp:nanoseconds:spanContext:)``
    /// hands each call's line to the sink, whose writer encodes it.
    ///
    /// - Parameters:
    ///   - constantFields: Fields of Kite's own after the handler's metadata whose values never
    ///     change and need no quoting (`outcome=success`), made part of the template.
    ///   - secondsKey: The key of the seconds field that ``LogLineTemplate/write(timestamp:nanoseconds:spanContext:)``
    ///     writes after them.
    package func lineTemplate(
        level: Logger.Level,
        message: String,
        source: String,
        constantFields: KeyValuePairs<StaticString, StaticString> = [:],
        secondsKey: StaticString? = nil
    ) -> LogLineTemplate {
        LogLineTemplate(
            level: level,
            bytes: self.fixedFieldBytes(level: level, message: message, source: source, constantFields: constantFields),
            secondsKey: secondsKey,
            handler: self
        )
    }

    /// The fields of a line that follow `ts` and come before a call's own — `level`, `msg`,
    /// `source`, `label`, this handler's metadata, then `constantFields` — each with its leading
    /// separator, for lines encoded without `log(event:)` (``LogLineTemplate``, ``LogStatement``).
    package func fixedFieldBytes(
        level: Logger.Level,
        message: String,
        source: String,
        constantFields: KeyValuePairs<StaticString, StaticString> = [:]
    ) -> [UInt8] {
        withLineBuffer { bytes in
            var line = LogLineWriter(format: self.format, continuingLine: true)
            self.fixedFields(&line, &bytes, level: level, message: message, source: source)
            for (key, value) in self.metadata { line.field(key, value, &bytes) }
            for (key, value) in constantFields { line.plainField(key, &bytes) { $0.append(value) } }
            return bytes.withBytes { Array($0) }
        }
    }

    /// The line's start and its timestamp, the first field of every line.
    static func startLine(_ line: inout LogLineWriter, _ bytes: inout LineBuffer, timestamp: UInt64) {
        line.begin(&bytes)
        line.plainField("ts", &bytes) { UTCTimestamp.appendRFC3339(timestamp, to: &$0) }
    }

    /// The fields after the timestamp that do not come from metadata (a template's fields).
    private func fixedFields(
        _ line: inout LogLineWriter,
        _ bytes: inout LineBuffer,
        level: Logger.Level,
        message: String,
        source: String
    ) {
        line.plainField("level", &bytes) { $0.append(utf8: level.rawValue) }
        line.fixedField("msg", message, &bytes)
        line.fixedField("source", source, &bytes)
        line.fixedField("label", self.label, &bytes)
    }

    /// The trace's IDs, the line's end, and the copy into the sink.
    static func endLine(_ line: inout LogLineWriter, _ bytes: inout LineBuffer, spanContext: SpanContext?, sink: LogSink) {
        if let spanContext {
            self.appendTraceIDs(&line, &bytes, traceID: spanContext.traceID, spanID: spanContext.spanID)
        }
        line.end(&bytes)
        bytes.withBytes { sink.append($0) }
    }

    /// `trace_id` and `span_id`, the last fields of a line.
    static func appendTraceIDs(_ line: inout LogLineWriter, _ bytes: inout LineBuffer, traceID: TraceID, spanID: SpanID) {
        line.plainField("trace_id", &bytes) { Hex.append(traceID, to: &$0) }
        line.plainField("span_id", &bytes) { Hex.append(spanID, to: &$0) }
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
            if event.isEmpty {
                for (key, value) in handler { body(key, value) }
            } else {
                for (key, value) in handler where event[key] == nil { body(key, value) }
            }
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
