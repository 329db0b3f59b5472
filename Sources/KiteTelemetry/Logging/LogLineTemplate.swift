import Logging

/// The lines of one call site of Kite's own instrumentation (the endpoint decorator's line):
/// the fields that do not change from call to call — `level`, `msg`, `source`, `label` and the
/// handler's metadata — encoded once by ``KiteLogHandler/lineTemplate(level:message:source:)`` in
/// the handler's format, and where the lines go.
///
/// ``write(spanContext:fields:)`` writes the line `log(event:)` would write for the same call,
/// with no swift-log `LogEvent` or `Logger.Metadata` per call, and
/// ``write(timestamp:nanoseconds:spanContext:)`` hands the same line to the sink as its values, for
/// the sink's writer thread to encode. A class, so that the call site holds one reference rather
/// than a copy of the handler.
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
    /// The sink's slot of this template's fixed fields, for its deferred lines.
    private let head: Int
    /// What a deferred line counts against the sink's capacity.
    private let maximumLineBytes: Int

    init(level: Logger.Level, bytes: [UInt8], secondsKey: StaticString?, handler: KiteLogHandler) {
        self.level = level
        self.isEnabled = level >= handler.logLevel
        self.bytes = bytes
        self.format = handler.format
        self.sink = handler.sink
        self.traceCorrelation = handler.traceCorrelation
        let head = LogLineHead(bytes: bytes, format: handler.format, secondsKey: secondsKey)
        self.maximumLineBytes = head.maximumLineBytes
        self.head = handler.sink.register(head)
    }

    deinit {
        self.sink.unregister(self.head)
    }

    /// Writes one line — `ts`, the fixed fields, the seconds field, and `trace_id`/`span_id` of
    /// `spanContext` — by handing its values to the sink, whose writer thread encodes it: the
    /// same line ``write(timestamp:spanContext:fields:)`` writes with a `seconds` field, in the
    /// same place among the sink's lines, with no encoding on the caller's thread.
    /// - Parameters:
    ///   - timestamp: The line's `ts`, in nanoseconds since the Unix epoch, when the caller has
    ///     the time already; `nil` reads the clock.
    ///   - nanoseconds: The value of the seconds field (its key given when the template was made),
    ///     in nanoseconds.
    package func write(timestamp: UInt64? = nil, nanoseconds: UInt64, spanContext: SpanContext?) {
        self.writeIfEnabled(timestamp: timestamp, nanoseconds: nanoseconds, spanContext: spanContext)
    }

    /// ``write(timestamp:nanoseconds:spanContext:)`` when ``isEnabled``; nothing otherwise.
    package func writeIfEnabled(timestamp: UInt64? = nil, nanoseconds: UInt64, spanContext: SpanContext?) {
        guard self.isEnabled else { return }
        let line = DeferredLogLine(
            head: self.head,
            timestamp: timestamp ?? UTCTimestamp.nowNanoseconds(),
            nanoseconds: nanoseconds,
            spanContext: self.traceCorrelation ? spanContext : nil
        )
        self.sink.append(line, maximumBytes: self.maximumLineBytes)
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
