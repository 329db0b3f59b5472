/// Writes each span as one structured line (logfmt or JSON, the lines of
/// ``ConsoleSpanExporter``) into a ``LogSink`` as it ends, on the thread that ends it.
///
/// What ``Telemetry`` uses for `OTEL_TRACES_EXPORTER=console`. The sink is a buffer with a
/// writer thread of its own, so ending a span never waits for the output: it formats the line
/// (about as long as a log line takes) and copies it in under the sink's short lock. A batch
/// processor in front of ``ConsoleSpanExporter`` would queue the span, format it on its exporting
/// thread and free it a batch later: more CPU per span in all (the README's performance section
/// has the figures). When the sink is full, the line is dropped and counted in
/// `kite_log_dropped_lines_total`, like a log line.
public final class ConsoleSpanProcessor: SpanProcessor {
    /// Where lines go.
    public let sink: LogSink
    /// logfmt or JSON.
    public let format: LogFormat

    /// Creates a processor writing to `sink`.
    public init(sink: LogSink, format: LogFormat = .logfmt) {
        self.sink = sink
        self.format = format
    }

    public func onEnd(_ span: consuming SpanRecord) {
        withLineBuffer { buffer in
            ConsoleSpanExporter.writeLine(span, format: self.format, into: &buffer)
            buffer.withBytes { self.sink.append($0) }
        }
    }

    /// Hands what the sink holds to its output.
    public func forceFlush() async {
        self.sink.flush()
    }
}
