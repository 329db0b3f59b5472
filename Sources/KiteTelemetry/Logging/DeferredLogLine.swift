import W3CTraceContext

/// One line of Kite's own instrumentation (the endpoint decorator's success line) handed to a
/// ``LogSink`` as the values it is made of, to be encoded by the sink's writer thread: the
/// caller copies a few words under the sink's lock instead of encoding ~200 bytes of text.
///
/// The line the writer encodes holds what `KiteLogHandler.log(event:)` writes for the same call
/// (the tests compare them field for field): `ts`, the template's fixed fields, the seconds
/// field, the trace's IDs.
/// Nothing in it is read later than the call: the values are copied, and the fixed fields are
/// the template's, registered with the sink (``LogLineHead``) for as long as the template lives.
struct DeferredLogLine {
    /// Where the line goes among the sink's pending text: after the bytes appended before it.
    var offset = 0
    /// The sink's slot of the line's ``LogLineHead``.
    let head: Int
    /// `ts`, in nanoseconds since the Unix epoch.
    let timestamp: UInt64
    /// The value of the head's seconds field, in nanoseconds.
    let nanoseconds: UInt64
    /// The trace's IDs, when the line carries them.
    let ids: (traceID: TraceID, spanID: SpanID)?

    init(head: Int, timestamp: UInt64, nanoseconds: UInt64, spanContext: SpanContext?) {
        self.head = head
        self.timestamp = timestamp
        self.nanoseconds = nanoseconds
        self.ids = spanContext.map { ($0.traceID, $0.spanID) }
    }

    /// Encodes the line, with its newline, in the head's format.
    func encode(head: LogLineHead, into buffer: inout LineBuffer) {
        var line = LogLineWriter(format: head.format)
        KiteLogHandler.startLine(&line, &buffer, timestamp: self.timestamp)
        head.bytes.withUnsafeBytes { buffer.append(bytes: $0) }
        if let key = head.secondsKey {
            line.plainField(key, &buffer) { SecondsText.append(nanoseconds: self.nanoseconds, to: &$0) }
        }
        if let ids = self.ids {
            KiteLogHandler.appendTraceIDs(&line, &buffer, traceID: ids.traceID, spanID: ids.spanID)
        }
        line.end(&buffer)
    }
}

/// What a ``LogSink``'s writer needs of a ``LogLineTemplate`` to encode its deferred lines.
struct LogLineHead: Sendable {
    /// The fixed fields, each with its leading separator.
    let bytes: [UInt8]
    let format: LogFormat
    /// The key of the seconds field after the fixed ones, if the lines have one.
    let secondsKey: StaticString?

    /// The most bytes a deferred line of this head encodes to, counted against the sink's capacity
    /// while it waits: `ts` with its separators (under 48), the seconds field (its key and under
    /// 40), the trace's IDs (under 80, in JSON), besides the fixed fields.
    var maximumLineBytes: Int {
        self.bytes.count &+ 48 &+ (self.secondsKey?.utf8CodeUnitCount ?? 0) &+ 40 &+ 80
    }
}
