import Logging
import W3CTraceContext

/// One log event as record exporters (OTLP) receive it: what ``KiteLogHandler`` writes as a line,
/// kept as values.
public struct LogRecord: Sendable {
    /// When it was logged, in nanoseconds since the Unix epoch.
    public var timestampNanoseconds: UInt64
    /// The level.
    public var level: Logger.Level
    /// The message.
    public var message: String
    /// The logger's label.
    public var label: String
    /// The module that logged (swift-log's `source`).
    public var source: String
    /// The merged metadata (handler, provider, then the call's own).
    public var metadata: Logger.Metadata
    /// The error passed with the event, described.
    public var error: String?
    /// The span the task was in, if any.
    public var spanContext: SpanContext?
    /// Where the call was made.
    public var file: String
    /// The function that logged.
    public var function: String
    /// The line of the call.
    public var line: UInt

    /// Creates a record.
    public init(
        timestampNanoseconds: UInt64,
        level: Logger.Level,
        message: String,
        label: String,
        source: String,
        metadata: Logger.Metadata = [:],
        error: String? = nil,
        spanContext: SpanContext? = nil,
        file: String = "",
        function: String = "",
        line: UInt = 0
    ) {
        self.timestampNanoseconds = timestampNanoseconds
        self.level = level
        self.message = message
        self.label = label
        self.source = source
        self.metadata = metadata
        self.error = error
        self.spanContext = spanContext
        self.file = file
        self.function = function
        self.line = line
    }
}
