import Tracing

/// Writes each span as one structured line (logfmt or JSON) through a ``LogSink`` — the same
/// non-blocking sink the logger uses, so span lines and log lines never interleave mid-line.
///
/// ``Telemetry`` (`OTEL_TRACES_EXPORTER=console`) writes the same lines through a
/// ``ConsoleSpanProcessor`` instead, as each span ends; this exporter is for a processor of your
/// own, such as a ``BatchSpanProcessor``.
public struct ConsoleSpanExporter: SpanExporter {
    /// Where lines go.
    public let sink: LogSink
    /// logfmt or JSON.
    public let format: LogFormat

    /// Creates an exporter writing to `sink`.
    public init(sink: LogSink, format: LogFormat = .logfmt) {
        self.sink = sink
        self.format = format
    }

    /// How many bytes of lines are gathered before they are handed to the sink.
    static let chunkSize = 16 * 1024

    public func export(_ batch: [SpanRecord]) async throws {
        // The batch's lines reach the sink some kilobytes at a time: one short lock per chunk
        // rather than per line, so the exporting thread seldom holds up the threads that log.
        withLineBuffer { buffer in
            var lines = 0
            for span in batch {
                Self.writeLine(span, format: self.format, into: &buffer)
                lines += 1
                if buffer.count >= Self.chunkSize {
                    buffer.withBytes { self.sink.append($0, lineCount: lines) }
                    buffer.removeAll()
                    lines = 0
                }
            }
            if lines > 0 { buffer.withBytes { self.sink.append($0, lineCount: lines) } }
        }
    }

    /// Writes `span` as one line, with its newline.
    static func writeLine(_ span: borrowing SpanRecord, format: LogFormat, into buffer: inout LineBuffer) {
        var line = LogLineWriter(format: format)
        line.begin(&buffer)
        line.plainField("ts", &buffer) { UTCTimestamp.appendRFC3339(span.endNanoseconds, to: &$0) }
        line.fixedField("span", span.name, &buffer)
        line.plainField("kind", &buffer) { $0.append(Self.name(of: span.kind)) }
        line.plainField("trace_id", &buffer) { Hex.append(span.context.traceID, to: &$0) }
        line.plainField("span_id", &buffer) { Hex.append(span.context.spanID, to: &$0) }
        if let parent = span.context.parentSpanID {
            line.plainField("parent_id", &buffer) { Hex.append(parent, to: &$0) }
        }
        line.plainField("duration", &buffer) {
            SecondsText.append(nanoseconds: span.endNanoseconds &- span.startNanoseconds, to: &$0)
            $0.append(UInt8(ascii: "s"))
        }
        if let status = span.status {
            line.fixedField("status", status.code == .ok ? "ok" : "error", &buffer)
            if let message = status.message { line.fixedField("status_message", message, &buffer) }
        }
        // Keys and string values as the span keeps their bytes: no string made for them.
        span.attributeList.forEachText(
            stored: { key, value in line.prefixedField("attr.", utf8: key, value, &buffer) },
            other: { key, value in line.prefixedField("attr.", key, value.textValue, &buffer) }
        )
        for event in span.events {
            line.fixedField("event", event.name, &buffer)
        }
        line.end(&buffer)
    }

    private static func name(of kind: SpanKind) -> StaticString {
        switch kind {
        case .server: "server"
        case .client: "client"
        case .producer: "producer"
        case .consumer: "consumer"
        case .internal: "internal"
        }
    }
}
