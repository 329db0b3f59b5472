import Logging

/// The lines of one call site of Kite's own instrumentation (the endpoint decorator's success
/// line): the fields that do not change from call to call — `level`, `msg`, `source`, `label`,
/// the handler's metadata and the call site's constant fields — encoded once by
/// ``KiteLogHandler/lineTemplate(level:message:source:constantFields:secondsKey:)`` in the
/// handler's format and registered with its sink, and where the lines go.
///
/// ``write(timestamp:nanoseconds:spanContext:)`` hands a line to the sink as its values, with no
/// swift-log `LogEvent` or `Logger.Metadata` per call; the sink's writer thread encodes the line
/// `log(event:)` would have written for the same call. A class, so that the call site holds one
/// reference rather than a copy of the handler, and so that the sink's slot is let go when the
/// call site is gone.
package final class LogLineTemplate: Sendable {
    /// Whether the template's level is at or above the handler's
    /// (``write(timestamp:nanoseconds:spanContext:)`` writes nothing if not).
    package let isEnabled: Bool
    private let sink: LogSink
    private let traceCorrelation: Bool
    /// The sink's slot of this template's fixed fields, which its lines name.
    private let head: Int
    /// What a line counts against the sink's capacity while it waits.
    private let maximumLineBytes: Int

    init(level: Logger.Level, bytes: [UInt8], secondsKey: StaticString?, handler: KiteLogHandler) {
        self.isEnabled = level >= handler.logLevel
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
    /// `spanContext` — by handing its values to the sink, whose writer thread encodes it in its
    /// place among the sink's lines. It holds what `log(event:)` writes for the same call
    /// provided ``KiteLogHandler/writesWholeLines(withFieldKeys:)`` holds for the constant
    /// fields' keys and the seconds field's. Nothing when the template is not ``isEnabled``.
    /// - Parameters:
    ///   - timestamp: The line's `ts`, in nanoseconds since the Unix epoch, when the caller has
    ///     the time already; `nil` reads the clock.
    ///   - nanoseconds: The value of the seconds field (its key given when the template was made),
    ///     in nanoseconds.
    package func write(timestamp: UInt64? = nil, nanoseconds: UInt64, spanContext: SpanContext?) {
        guard self.isEnabled else { return }
        let line = DeferredLogLine(
            head: self.head,
            timestamp: timestamp ?? UTCTimestamp.nowNanoseconds(),
            nanoseconds: nanoseconds,
            spanContext: self.traceCorrelation ? spanContext : nil
        )
        self.sink.append(line, maximumBytes: self.maximumLineBytes)
    }
}
