import Instrumentation
@testable import KiteTelemetry
import Logging
import Synchronization
import Testing

@Suite("Log statements")
struct LogStatementTests {
    @Test(
        "a statement's line holds what swift-log's call writes with the same keys and values, field for field, keys in the order declared",
        arguments: [LogFormat.logfmt, .json], LoggingTests.hostile
    )
    func matchesSwiftLog(format: LogFormat, value: String) throws {
        let output = InMemoryLogOutput()
        let sink = LogSink(output: output)
        defer { sink.shutdown() }
        var handler = KiteLogHandler(label: "statements \(value)", sink: sink, format: format)
        handler.metadata["service"] = "\(value)"
        let logger = Logger(label: "statements") { _ in handler }
        let hostileKey = "key \(value)"
        let statement = LogStatement(logger, .notice, "served \(value)", keys: "endpoint", hostileKey, "status")
        #expect(statement.encodesLinesItself)
        let context = try LoggingTests.sampledSpanContext()
        for inSpan in [true, false] {
            ServiceContext.$current.withValue(inSpan ? context : nil) {
                logger.notice("served \(value)", metadata: ["endpoint": "\(value)", "\(hostileKey)": "x", "status": "200"])
                statement.log(value, "x", 200)
            }
        }
        sink.flush()
        let lines = output.lines
        try #require(lines.count == 4)
        func fields(_ line: String) throws -> [String: String] {
            var fields = try LoggingTests.fields(of: line, format: format)
            #expect(fields.removeValue(forKey: "ts") != nil)
            return fields
        }
        #expect(try fields(lines[1]) == fields(lines[0]))
        #expect(try fields(lines[3]) == fields(lines[2]))
        #expect(try fields(lines[1])["trace_id"] == "0af7651916cd43dd8448eb211c80319c")
        #expect(try fields(lines[3])["trace_id"] == nil)
        if format == .logfmt {
            let keys = try Logfmt.parse(lines[1]).map(\.0)
            let sanitizedKey = try #require(try Logfmt.parse(lines[0]).map(\.0).first { $0.hasPrefix("key") })
            #expect(keys == ["ts", "level", "msg", "source", "label", "service", "endpoint", sanitizedKey, "status", "trace_id", "span_id"])
        }
    }

    @Test("values are written by their descriptions: integers, Booleans, a type of the caller's")
    func descriptions() throws {
        struct Order: CustomStringConvertible {
            let id: Int
            var description: String { "order #\(self.id)" }
        }
        let output = InMemoryLogOutput()
        let sink = LogSink(output: output)
        defer { sink.shutdown() }
        let logger = Logger(label: "statements") { KiteLogHandler(label: $0, sink: sink) }
        LogStatement(logger, .info, "placed", keys: "count", "paid", "order").log(3, true, Order(id: 42))
        sink.flush()
        let line = try #require(output.lines.first)
        let fields = Dictionary(try Logfmt.parse(line), uniquingKeysWith: { $1 })
        #expect(fields["count"] == "3" && fields["paid"] == "true" && fields["order"] == "order #42")
    }

    @Test("fewer values than keys write (MISSING); more are written under (EXTRA)1, (EXTRA)2, …, through Kite's handler and any other")
    func missingAndExtraValues() throws {
        let output = InMemoryLogOutput()
        let sink = LogSink(output: output)
        defer { sink.shutdown() }
        let kite = Logger(label: "statements") { KiteLogHandler(label: $0, sink: sink) }
        let recorder = RecordingLogHandler()
        let other = Logger(label: "statements") { _ in recorder }
        for logger in [kite, other] {
            let statement = LogStatement(logger, .info, "call", keys: "a", "b", "c")
            statement.log()
            statement.log("1")
            statement.log("1", "2", "3", "4", "5")
        }
        sink.flush()
        var lines = output.lines
        try #require(lines.count == 3)
        let none = Dictionary(try Logfmt.parse(lines.removeFirst()), uniquingKeysWith: { $1 })
        #expect(none["a"] == "(MISSING)" && none["b"] == "(MISSING)" && none["c"] == "(MISSING)")
        let short = Dictionary(try Logfmt.parse(lines[0]), uniquingKeysWith: { $1 })
        #expect(short["a"] == "1" && short["b"] == "(MISSING)" && short["c"] == "(MISSING)")
        let long = Dictionary(try Logfmt.parse(lines[1]), uniquingKeysWith: { $1 })
        #expect(long["c"] == "3" && long["(EXTRA)1"] == "4" && long["(EXTRA)2"] == "5")

        var events = recorder.events
        try #require(events.count == 3)
        #expect(events.removeFirst().metadata == ["a": "(MISSING)", "b": "(MISSING)", "c": "(MISSING)"])
        #expect(events[0].metadata == ["a": "1", "b": "(MISSING)", "c": "(MISSING)"])
        #expect(events[1].metadata == ["a": "1", "b": "2", "c": "3", "(EXTRA)1": "4", "(EXTRA)2": "5"])
    }

    @Test("through another handler a call is a swift-log call: level, message, metadata, source and call site")
    func otherHandler() throws {
        let recorder = RecordingLogHandler()
        let logger = Logger(label: "statements") { _ in recorder }
        let statement = LogStatement(logger, .warning, "slow", keys: "endpoint", "took")
        #expect(!statement.encodesLinesItself)
        let line: UInt = #line + 1
        statement.log("sum", "1.5")
        let event = try #require(recorder.events.first)
        #expect(event.level == .warning)
        #expect(event.message == "slow")
        #expect(event.metadata == ["endpoint": "sum", "took": "1.5"])
        #expect(event.source == "KiteTelemetryTests")
        #expect(event.line == line && event.file == #fileID)
    }

    @Test("where Kite's handler would write other than the statement's fields — a provider, its own metadata under a statement's key, a key declared twice — the call goes through swift-log's API")
    func fallsBackToSwiftLog() throws {
        let output = InMemoryLogOutput()
        let sink = LogSink(output: output)
        defer { sink.shutdown() }
        let provided = KiteLogHandler(label: "provided", sink: sink, metadataProvider: Logger.MetadataProvider { ["tenant": "acme"] })
        var shadowed = KiteLogHandler(label: "shadowed", sink: sink)
        shadowed.metadata["endpoint"] = "from the handler"
        for handler in [provided, shadowed] {
            let logger = Logger(label: handler.label) { _ in handler }
            let statement = LogStatement(logger, .info, "call", keys: "endpoint")
            #expect(!statement.encodesLinesItself)
            statement.log("from the call")
        }
        let plain = Logger(label: "plain") { KiteLogHandler(label: $0, sink: sink) }
        let twice = LogStatement(plain, .info, "call", keys: "endpoint", "endpoint")
        #expect(!twice.encodesLinesItself)
        #expect(LogStatement(plain, .info, "call", keys: "endpoint").encodesLinesItself)
        twice.log("first", "second")
        sink.flush()
        let lines = output.lines
        try #require(lines.count == 3)
        #expect(try Logfmt.parse(lines[2]).filter { $0.0 == "endpoint" }.map(\.1) == ["second"], "a key declared twice: the last value, as swift-log's metadata keeps it")
        let first = Dictionary(try Logfmt.parse(lines[0]), uniquingKeysWith: { $1 })
        #expect(first["tenant"] == "acme" && first["endpoint"] == "from the call")
        let second = try Logfmt.parse(lines[1])
        #expect(second.filter { $0.0 == "endpoint" }.map(\.1) == ["from the call"], "the call's value replaces the handler's, once")
    }

    @Test("a statement below the logger's level writes nothing; one at or above it writes")
    func levels() throws {
        let output = InMemoryLogOutput()
        let sink = LogSink(output: output)
        defer { sink.shutdown() }
        let logger = Logger(label: "statements") { KiteLogHandler(label: $0, sink: sink, logLevel: .warning) }
        let quiet = LogStatement(logger, .info, "quiet", keys: "a")
        let loud = LogStatement(logger, .error, "loud", keys: "a")
        #expect(!quiet.isEnabled && loud.isEnabled)
        quiet.log("1")
        loud.log("2")
        sink.flush()
        #expect(output.lines.count == 1)
        #expect(output.lines.first?.contains("msg=loud") == true)
    }
}

/// A swift-log handler that keeps every event it is given.
final class RecordingLogHandler: LogHandler, Sendable {
    private let recorded = Mutex<[LogEvent]>([])
    var events: [LogEvent] { self.recorded.withLock { $0 } }

    var logLevel: Logger.Level {
        get { .trace }
        set {}
    }
    var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }
    func log(event: LogEvent) {
        self.recorded.withLock { $0.append(event) }
    }
}
