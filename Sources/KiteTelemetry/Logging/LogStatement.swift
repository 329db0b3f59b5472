import Instrumentation
import Logging

/// A log statement whose level, message and keys are fixed where it is declared, each call giving
/// only the values: for the lines a service writes on every request.
///
/// ```swift
/// let served = LogStatement(logger, .info, "request served", keys: "endpoint", "status", "took")
/// served.log("uppercase", "200", took)
/// ```
///
/// A call writes what `logger.log(level:_:metadata:)` writes for the same message with the keys
/// and values as string metadata (the values' `description`s), the keys in the order declared.
/// When the logger's handler is a ``KiteLogHandler`` that writes lines only — no
/// ``LogRecordProcessor``, no metadata provider, none of the keys in its own metadata, no key
/// declared twice (swift-log's metadata would keep the last value) — the line
/// is encoded straight from the values into the handler's sink: no `Logger.Metadata` dictionary
/// or `LogEvent` is built, which is most of what a swift-log call costs. Otherwise each call goes
/// through swift-log's API, so any handler receives it as usual.
///
/// The statement keeps the logger as it was when the statement was made (its handler, level and
/// metadata). A call with fewer values than keys writes the remaining keys with the value
/// `(MISSING)`; values beyond the keys are written under the keys `(EXTRA)1`, `(EXTRA)2`, ….
public struct LogStatement: Sendable {
    /// The value written for a key the call gave no value for.
    public static let missingValue = "(MISSING)"
    /// The key of the `n`th value (from 1) beyond the statement's keys.
    public static func extraKey(_ n: Int) -> String { "(EXTRA)\(n)" }

    private let logger: Logger
    /// The statement's level.
    public let level: Logger.Level
    /// The statement's message.
    public let message: Logger.Message
    /// The keys, in the order the values are given.
    public let keys: [String]
    /// Whether lines are written: the statement's level is at or above the logger's (when the
    /// statement was made).
    public let isEnabled: Bool
    private let source: String
    /// Set when lines are encoded here rather than through swift-log's API.
    private let direct: DirectLine?

    /// What a line encoded without swift-log's API needs: the handler's fixed fields, encoded
    /// once. A class, so that a call takes one reference, not a copy of each member.
    private final class DirectLine: Sendable {
        let head: [UInt8]
        let format: LogFormat
        let sink: LogSink
        let traceCorrelation: Bool

        init(head: [UInt8], format: LogFormat, sink: LogSink, traceCorrelation: Bool) {
            self.head = head
            self.format = format
            self.sink = sink
            self.traceCorrelation = traceCorrelation
        }
    }

    /// Declares a statement.
    /// - Parameters:
    ///   - logger: The logger to write through.
    ///   - level: The level of every line.
    ///   - message: The message of every line.
    ///   - keys: The metadata keys, in the order ``log(_:file:function:line:)`` takes their values.
    ///   - source: swift-log's `source`; by default the module of the declaration.
    ///   - fileID: The declaration's file, for the default `source`.
    public init(
        _ logger: Logger,
        _ level: Logger.Level,
        _ message: Logger.Message,
        keys: String...,
        source: String? = nil,
        fileID: String = #fileID
    ) {
        self.logger = logger
        self.level = level
        self.message = message
        self.keys = keys
        let source = source ?? Self.module(ofFileID: fileID)
        self.source = source
        self.isEnabled = level >= logger.logLevel
        if let handler = logger.handler as? KiteLogHandler, handler.writesWholeLines(withFieldKeys: keys),
            Set(keys).count == keys.count
        {
            self.direct = DirectLine(
                head: handler.fixedFieldBytes(level: level, message: message.description, source: source),
                format: handler.format,
                sink: handler.sink,
                traceCorrelation: handler.traceCorrelation
            )
        } else {
            self.direct = nil
        }
    }

    /// Writes one line with these values for the statement's keys, in order (their `description`s).
    @inlinable
    public func log<each Value: CustomStringConvertible>(
        _ values: repeat each Value,
        file: String = #fileID,
        function: String = #function,
        line: UInt = #line
    ) {
        guard self.isEnabled else { return }
        var count = 0
        for _ in repeat each values { count &+= 1 }
        // The values' texts on the stack: no array is allocated per call.
        withUnsafeTemporaryAllocation(of: String.self, capacity: count) { texts in
            var index = 0
            for value in repeat each values {
                texts.initializeElement(at: index, to: value.description)
                index &+= 1
            }
            self.write(UnsafeBufferPointer(texts), file: file, function: function, line: line)
            texts.deinitialize()
        }
    }

    @usableFromInline
    func write(_ values: UnsafeBufferPointer<String>, file: String, function: String, line: UInt) {
        guard let direct = self.direct else {
            self.logger.log(
                level: self.level,
                self.message,
                metadata: self.metadata(values),
                source: self.source,
                file: file,
                function: function,
                line: line
            )
            return
        }
        let timestamp = UTCTimestamp.nowNanoseconds()
        let spanContext = direct.traceCorrelation ? ServiceContext.current?.spanContext : nil
        withLineBuffer { bytes in
            var writer = LogLineWriter(format: direct.format)
            KiteLogHandler.startLine(&writer, &bytes, timestamp: timestamp)
            direct.head.withUnsafeBytes { bytes.append(bytes: $0) }
            self.forEachField(values) { key, value in writer.field(key, value, &bytes) }
            KiteLogHandler.endLine(&writer, &bytes, spanContext: spanContext, sink: direct.sink)
        }
    }

    /// Whether calls encode their lines into the handler's sink themselves rather than through
    /// swift-log's API.
    var encodesLinesItself: Bool { self.direct != nil }

    /// The key and value of each field a call with `values` writes, in order.
    private func forEachField(_ values: UnsafeBufferPointer<String>, _ body: (String, String) -> Void) {
        // Through the buffer, each key is lent where it lies rather than copied out.
        self.keys.withUnsafeBufferPointer { keys in
            for index in 0..<max(keys.count, values.count) {
                if index < keys.count {
                    body(keys[index], index < values.count ? values[index] : Self.missingValue)
                } else {
                    body(Self.extraKey(index &- keys.count &+ 1), values[index])
                }
            }
        }
    }

    /// The fields as swift-log metadata (for a handler other than Kite's).
    private func metadata(_ values: UnsafeBufferPointer<String>) -> Logger.Metadata {
        var metadata = Logger.Metadata(minimumCapacity: max(self.keys.count, values.count))
        self.forEachField(values) { key, value in metadata[key] = .string(value) }
        return metadata
    }

    /// The module of a `#fileID` (`Module/File.swift`), as swift-log derives `source`.
    static func module(ofFileID fileID: String) -> String {
        guard let slash = fileID.firstIndex(of: "/") else { return fileID }
        return String(fileID[..<slash])
    }
}
