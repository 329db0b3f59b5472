import Logging
import W3CTraceContext

/// Encodes log records as an OTLP `ExportLogsServiceRequest`
/// (`opentelemetry/proto/collector/logs/v1/logs_service.proto`).
///
/// The message is the body (a string), the level the severity (`trace` 1, `debug` 5, `info` 9,
/// `notice` 10, `warning` 13, `error` 17, `critical` 21; its swift-log name as severity text),
/// the span the task was in the trace and span IDs and trace flags. Attributes: the metadata
/// (nested values as arrays and key-value lists), `log.logger` (the label), `code.namespace`
/// (swift-log's source), `code.file.path`, `code.function.name`, `code.line.number`, and
/// `exception.message` when the event carries an error.
public struct OTLPLogEncoder: ~Copyable, Sendable {
    /// The resource and scope of every request.
    public let resource: OTLPResource
    private var writer = ProtobufWriter(capacity: 64 * 1024)

    /// Creates an encoder.
    public init(resource: OTLPResource) {
        self.resource = resource
    }

    /// The request encoded by the last ``encode(_:)``.
    public var bytes: [UInt8] { self.writer.bytes }

    /// Calls `body` with the request encoded last, without copying it.
    public func withBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try self.writer.withBytes(body)
    }

    /// Encodes `records` as one request, readable in ``bytes`` until the next call.
    public mutating func encode(_ records: [LogRecord]) {
        let resource = self.resource
        self.writer.reset()
        self.writer.exportRequest(resource) { scopeLogs in
            for record in records {
                scopeLogs.message(2, reserving: 2) { Self.writeRecord(record, into: &$0) }
            }
        }
    }

    /// A `LogRecord`'s fields.
    private static func writeRecord(_ record: LogRecord, into writer: inout ProtobufWriter) {
        writer.fixed64Field(1, record.timestampNanoseconds)
        writer.varintField(2, Self.severityNumber(record.level))
        writer.stringField(3, record.level.rawValue)
        writer.message(5, reserving: 2) { body in
            body.anyString(record.message, maxBytes: .max)
        }
        for (key, value) in record.metadata {
            writer.keyValue(6, key: key, metadata: value)
        }
        writer.keyValue(6, key: "log.logger", string: record.label)
        if !record.source.isEmpty { writer.keyValue(6, key: "code.namespace", string: record.source) }
        if !record.file.isEmpty { writer.keyValue(6, key: "code.file.path", string: record.file) }
        if !record.function.isEmpty { writer.keyValue(6, key: "code.function.name", string: record.function) }
        if record.line != 0 {
            writer.message(6) { keyValue in
                keyValue.stringField(1, "code.line.number")
                keyValue.message(2) { $0.anyInt(Int64(record.line)) }
            }
        }
        if let error = record.error { writer.keyValue(6, key: "exception.message", string: error) }
        if let context = record.spanContext {
            writer.fixed32Field(8, UInt32(context.flags.rawValue))
            writer.idField(9, context.traceID.bytes)
            writer.idField(10, context.spanID.bytes)
        }
        writer.fixed64Field(11, record.timestampNanoseconds)
    }

    /// `SeverityNumber` of a swift-log level.
    static func severityNumber(_ level: Logger.Level) -> UInt64 {
        switch level {
        case .trace: 1
        case .debug: 5
        case .info: 9
        case .notice: 10
        case .warning: 13
        case .error: 17
        case .critical: 21
        }
    }
}
