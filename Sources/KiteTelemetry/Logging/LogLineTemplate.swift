import Logging

/// The lines of one call site of Kite's own instrumentation (the endpoint decorator's line):
/// the fields that do not change from call to call — `level`, `msg`, `source`, `label` and the
/// handler's metadata — encoded once by ``KiteLogHandler/lineTemplate(level:message:source:)`` in
/// the handler's format, and where the lines go.
///
/// ``write(spanContext:fields:)`` writes the line `log(event:)` would write for the same call,
/// with no swift-log `LogEvent` or `Logger.Metadata` per call. A class, so that the call site
/// holds one reference rather than a copy of the handler.
package final class LogLineTemplate: Sendable {
    /// The level the lines are written at.
    package let level: Logger.Level
    /// Whether ``level`` is at or above the handler's level (the caller skips the line if not).
    package let isEnabled: Bool
    /// The fixed fields, each with its leading separator.
    let bytes: [UInt8]
    let format: LogFormat
    let sink: LogSink
    let traceCorrelation: Bool

    init(level: Logger.Level, bytes: [UInt8], handler: KiteLogHandler) {
        self.level = level
        self.isEnabled = level >= handler.logLevel
        self.bytes = bytes
        self.format = handler.format
        self.sink = handler.sink
        self.traceCorrelation = handler.traceCorrelation
    }

    /// Writes one line: `ts`, the fixed fields, then `fields`, and `trace_id`/`span_id` of
    /// `spanContext`. It holds what `log(event:)` writes for the same call provided
    /// ``KiteLogHandler/writesWholeLines(withFieldKeys:)`` holds for the keys `fields` writes.
    /// The caller checks ``isEnabled``.
    /// - Parameter timestamp: The line's `ts`, in nanoseconds since the Unix epoch, when the
    ///   caller has the time already; `nil` reads the clock.
    package func write(timestamp: UInt64? = nil, spanContext: SpanContext?, fields: (inout LogLineFields) -> Void) {
        let timestamp = timestamp ?? UTCTimestamp.nowNanoseconds()
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1024) { scratch in
            var line = LogLineFields(writer: LogLineWriter(format: self.format), buffer: LineBuffer(scratch: scratch))
            KiteLogHandler.startLine(&line.writer, &line.buffer, timestamp: timestamp)
            self.bytes.withUnsafeBytes { line.buffer.append(bytes: $0) }
            fields(&line)
            KiteLogHandler.endLine(&line.writer, &line.buffer, spanContext: self.traceCorrelation ? spanContext : nil, sink: self.sink)
        }
    }
}
