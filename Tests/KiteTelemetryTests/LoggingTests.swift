import Foundation
import Instrumentation
@testable import KiteTelemetry
import Logging
import Synchronization
import Testing
import W3CTraceContext

@Suite("Structured logging")
struct LoggingTests {
    static let hostile: [String] = [
        "plain",
        "with space",
        "quote \" inside",
        "equals=sign",
        "back\\slash",
        "new\nline",
        "carriage\rreturn\ttab",
        "control \u{01}\u{1F}\u{7F} chars",
        "",
        "ünïcödé 日本 🚀",
        "\" level=error msg=forged",
        "line\nts=2020-01-01T00:00:00Z level=critical msg=forged",
        // Longer than the 1 KiB a line is first encoded in on the stack.
        String(repeating: "long \"value\" = ", count: 400),
    ]

    func makeLogger(_ format: LogFormat, output: InMemoryLogOutput, level: Logger.Level = .info) -> (Logger, LogSink) {
        let sink = LogSink(output: output)
        let logger = Logger(label: "test") { KiteLogHandler(label: $0, sink: sink, format: format, logLevel: level) }
        return (logger, sink)
    }

    @Test("logfmt lines parse back to the same keys and values for hostile input", arguments: Self.hostile)
    func logfmtRoundTrip(value: String) throws {
        let output = InMemoryLogOutput()
        let (logger, sink) = self.makeLogger(.logfmt, output: output)
        logger.info("\(value)", metadata: ["field": "\(value)", "key with space=\"": "x", "n": .stringConvertible(42)])
        sink.flush()
        let lines = output.lines
        try #require(lines.count == 1, "one event is one line: \(lines)")
        let pairs = try Logfmt.parse(lines[0])
        let fields = Dictionary(pairs, uniquingKeysWith: { first, _ in first })
        #expect(pairs.count == fields.count, "no key appears twice: \(pairs.map(\.0))")
        #expect(fields["msg"] == value)
        #expect(fields["field"] == value)
        #expect(fields["key_with_space__"] == "x")
        #expect(fields["n"] == "42")
        #expect(fields["level"] == "info")
        #expect(fields["source"] == "KiteTelemetryTests")
        #expect(fields["label"] == "test")
        sink.shutdown()
    }

    @Test("logfmt: every byte that needs quoting, at every position of a long value or key, is caught")
    func logfmtEveryPosition() throws {
        let output = InMemoryLogOutput()
        let (logger, sink) = self.makeLogger(.logfmt, output: output)
        let specials: [Character] = [" ", "=", "\"", "\\", "\u{7F}", "\u{00}", "\u{01}", "\u{1F}", "\t", "\n"]
        // Neighbours of the special bytes in value (0x21, 0x3C, 0x3E, 0x5B, 0x7E) and multi-byte
        // UTF-8 (bytes ≥ 0x80) need nothing: they must come back unquoted.
        let plain = ["a!<>[~b", "ünï-日本"]
        var expected: [(key: String, value: String)] = []
        // Texts short enough for Swift to store inline (up to 15 bytes) and longer ones.
        for length in [1, 7, 15, 19] {
            for special in specials {
                for position in 0..<length {
                    var value = Array(String(repeating: "abcdefgh", count: 3).prefix(length))
                    value[position] = special
                    let text = String(value)
                    expected.append((key: "k\(expected.count)", value: text))
                    logger.info("m", metadata: ["v": "\(text)", "k\(text)": "x"])
                }
            }
        }
        for text in plain { logger.info("m", metadata: ["v": "\(text)"]) }
        sink.flush()
        let lines = output.lines
        try #require(lines.count == expected.count + plain.count)
        for (line, (_, value)) in zip(lines, expected) {
            let fields = Dictionary(try Logfmt.parse(line), uniquingKeysWith: { first, _ in first })
            #expect(fields["v"] == value, "line: \(line)")
            #expect(line.contains(" v=\""), "a value with \(value.debugDescription) is quoted")
            // The key's special byte became `_` (a control char, space, `=` or `"`), or stayed (`\`).
            #expect(fields.keys.contains { $0.hasPrefix("k") && $0 != "k" && !$0.contains(" ") && !$0.contains("=") })
        }
        for (line, text) in zip(lines.suffix(plain.count), plain) {
            #expect(line.contains(" v=\(text) ") || line.hasSuffix(" v=\(text)"), "unquoted: \(line)")
        }
        sink.shutdown()
    }

    @Test("JSON lines parse back to the same keys and values for hostile input", arguments: Self.hostile)
    func jsonRoundTrip(value: String) throws {
        let output = InMemoryLogOutput()
        let (logger, sink) = self.makeLogger(.json, output: output)
        logger.warning(
            "\(value)",
            metadata: ["field": "\(value)", "\(value)": "as key", "nested": ["a": ["1", "\(value)"]]]
        )
        sink.flush()
        let lines = output.lines
        try #require(lines.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(object["msg"] as? String == value)
        #expect(object["field"] as? String == value)
        #expect(object["level"] as? String == "warning")
        if value != "field" && value != "msg" {
            #expect(object[value] as? String == "as key")
        }
        let nested = object["nested"] as? [String: Any]
        #expect(nested?["a"] as? [String] == ["1", value])
        sink.shutdown()
    }

    @Test(
        "a line handed to the sink as its values (the endpoint decorator's) holds what swift-log's call writes, field for field",
        arguments: [LogFormat.logfmt, .json], Self.hostile
    )
    func directLineMatchesSwiftLog(format: LogFormat, value: String) throws {
        let output = InMemoryLogOutput()
        let sink = LogSink(output: output)
        var handler = KiteLogHandler(label: "test \(value)", sink: sink, format: format)
        handler.metadata["endpoint"] = "\(value)"
        let logger = Logger(label: "test \(value)") { _ in handler }
        #expect(handler.writesWholeLines(withFieldKeys: ["outcome", "took"]))
        #expect(!handler.writesWholeLines(withFieldKeys: ["endpoint"]), "a call's field would replace the handler's")
        let quieter = KiteLogHandler(label: "quiet", sink: sink, format: format, logLevel: .warning)
        #expect(!quieter.lineTemplate(level: .info, message: value, source: "KiteTelemetryTests").isEnabled)
        #expect(quieter.lineTemplate(level: .error, message: value, source: "KiteTelemetryTests").isEnabled)
        let context = try Self.sampledSpanContext()
        let spanContext = try #require(context.spanContext)
        // Each line through swift-log, then the same line handed to the sink as its values and
        // encoded by the writer thread.
        for span in [spanContext, nil] {
            ServiceContext.$current.withValue(span == nil ? nil : context) {
                logger.info("\(value)", metadata: ["outcome": "success", "took": .string(SecondsText.string(nanoseconds: 12_000_345))])
            }
            let template = handler.lineTemplate(
                level: .info,
                message: value,
                source: "KiteTelemetryTests",
                constantFields: ["outcome": "success"],
                secondsKey: "took"
            )
            template.write(nanoseconds: 12_000_345, spanContext: span)
        }
        sink.flush()
        let lines = output.lines
        try #require(lines.count == 4)
        // The same fields with the same values, but for the timestamp; the head in the same order
        // (metadata follows a dictionary's order in swift-log's line).
        func fields(_ line: String) throws -> [String: String] {
            var fields = try Self.fields(of: line, format: format)
            #expect(fields.removeValue(forKey: "ts") != nil)
            return fields
        }
        func head(_ line: String) -> Substring {
            let level = line.range(of: "level")?.lowerBound ?? line.startIndex
            let label = line.range(of: "label")?.upperBound ?? line.endIndex
            return line[level..<label]
        }
        #expect(try fields(lines[1]) == fields(lines[0]))
        #expect(try fields(lines[3]) == fields(lines[2]))
        #expect(try fields(lines[1]).count == 9)
        #expect(head(lines[1]) == head(lines[0]))
        #expect(lines[1].contains("0.012000345"))
        #expect(lines[1].contains("b7ad6b7169203331") && !lines[3].contains("b7ad6b7169203331"))
        sink.shutdown()
    }

    @Test(
        "deferred lines are written in their places among other lines, each with its own template's fields, while templates come and go",
        arguments: [LogFormat.logfmt, .json]
    )
    func deferredLinesKeepOrder(format: LogFormat) throws {
        let output = InMemoryLogOutput()
        let sink = LogSink(output: output)
        let logger = Logger(label: "order") { KiteLogHandler(label: $0, sink: sink, format: format) }
        var expected: [(index: Int, template: String?)] = []
        var index = 0
        // Rounds of templates made, used and dropped, so that later templates take the slots of
        // earlier ones while lines of the earlier ones may still be pending.
        for round in 0..<20 {
            var templates: [(name: String, template: LogLineTemplate)] = []
            for number in 0..<3 {
                var handler = KiteLogHandler(label: "order", sink: sink, format: format)
                let name = "r\(round)t\(number)"
                handler.metadata["endpoint"] = "\(name)"
                templates.append((name, handler.lineTemplate(level: .info, message: "call", source: "tests", secondsKey: "took")))
            }
            for _ in 0..<50 {
                if index % 3 == 0 {
                    logger.info("plain", metadata: ["index": "\(index)"])
                    expected.append((index, nil))
                } else {
                    let (name, template) = templates[index % templates.count]
                    template.write(timestamp: 1_764_213_600_000_000_000, nanoseconds: UInt64(index), spanContext: nil)
                    expected.append((index, name))
                }
                index += 1
            }
            if round % 5 == 4 { sink.flush() }
        }
        sink.flush()
        let lines = output.lines
        try #require(lines.count == expected.count)
        for (line, (index, template)) in zip(lines, expected) {
            let fields = try Self.fields(of: line, format: format)
            if let template {
                #expect(fields["endpoint"] == template && fields["msg"] == "call", "\(line)")
                #expect(fields["took"] == SecondsText.string(.nanoseconds(index)), "\(line)")
                #expect(fields["ts"] == "2025-11-27T03:20:00.000000Z", "\(line)")
            } else {
                #expect(fields["index"] == "\(index)" && fields["msg"] == "plain", "\(line)")
            }
        }
        #expect(sink.droppedLines == 0)
        sink.shutdown()
    }

    @Test("deferred lines past a full buffer are dropped and counted, and the ones that fit are written", .timeLimit(.minutes(1)))
    func deferredLinesDropAndCount() async throws {
        let output = GatedOutput()
        let sink = LogSink(output: output, capacity: 4096)
        let logger = Logger(label: "test") { KiteLogHandler(label: $0, sink: sink) }
        let template = KiteLogHandler(label: "test", sink: sink).lineTemplate(
            level: .info,
            message: "call",
            source: "tests",
            constantFields: ["outcome": "success"],
            secondsKey: "took"
        )
        logger.info("first")  // taken by the writer, which then blocks in the output
        try await waitForWriterToBlock(output)
        let total = 500
        for index in 0..<total {
            template.write(nanoseconds: UInt64(index) * 1000, spanContext: nil)
        }
        #expect(sink.droppedLines > 0)
        output.open()
        sink.flush()
        let lines = output.lines
        #expect(UInt64(lines.count) + sink.droppedLines == UInt64(total + 1))
        #expect(lines.dropFirst().allSatisfy { $0.contains("msg=call") && $0.contains("outcome=success took=") })
        sink.shutdown()
    }

    /// A context holding a sampled span (trace `0af76519…`, span `b7ad6b7169203331`).
    static func sampledSpanContext() throws -> ServiceContext {
        var context = ServiceContext.topLevel
        context.spanContext = SpanContext(
            traceID: try #require(TraceID(hex: "0af7651916cd43dd8448eb211c80319c")),
            spanID: try #require(SpanID(hex: "b7ad6b7169203331")),
            flags: .sampled
        )
        return context
    }

    /// A line's fields, keys to values (a key that occurs twice reads `duplicate`).
    static func fields(of line: String, format: LogFormat) throws -> [String: String] {
        if format == .logfmt {
            return Dictionary(try Logfmt.parse(line), uniquingKeysWith: { _, _ in "duplicate" })
        }
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        return object.mapValues { "\($0)" }
    }

    @Test("logfmt's eight-bytes-at-a-time quoting test agrees with the byte-by-byte one for every byte, position and neighbour")
    func logfmtWordTest() {
        // Every byte value at every position of 1…17-byte values, among plain bytes, bytes ≥ 0x80
        // (UTF-8 continuation bytes) and just above the borrow boundaries.
        for fill: UInt8 in [UInt8(ascii: "a"), 0x80, 0xFF, 0x21, 0x23] {
            for length in 1...17 {
                for position in 0..<length {
                    for byte in UInt8.min...UInt8.max {
                        var bytes = [UInt8](repeating: fill, count: length)
                        bytes[position] = byte
                        let expected = bytes.contains(where: LogLineWriter.needsLogfmtQuotes)
                        let word = bytes.withUnsafeBytes { LogLineWriter.anyNeedsLogfmtQuotes($0) }
                        if word != expected {
                            Issue.record("\(bytes): \(word), byte by byte \(expected)")
                            return
                        }
                    }
                }
            }
        }
    }

    @Test("durations are written as exact decimal seconds")
    func secondsText() {
        #expect(SecondsText.string(nanoseconds: 0) == "0.0")
        #expect(SecondsText.string(nanoseconds: 123_456) == "0.000123456")
        #expect(SecondsText.string(nanoseconds: 1_500_000_000) == "1.5")
        #expect(SecondsText.string(nanoseconds: 42_000_000_000) == "42.0")
        #expect(SecondsText.string(nanoseconds: .max) == "18446744073.709551615")
        #expect(SecondsText.string(.milliseconds(2) + .nanoseconds(7)) == "0.002000007")
        #expect(SecondsText.string(.zero - .microseconds(5)) == "-0.000005")
        for nanoseconds: UInt64 in [1, 999_999_999, 1_000_000_001, 86_400_000_000_123] {
            #expect(Double(SecondsText.string(nanoseconds: nanoseconds)) == Double(nanoseconds) / 1e9)
        }
    }

    @Test("the timestamp is RFC 3339 UTC and close to now")
    func timestamp() throws {
        let output = InMemoryLogOutput()
        let (logger, sink) = self.makeLogger(.logfmt, output: output)
        let before = Date()
        logger.info("tick")
        sink.flush()
        let fields = Dictionary(try Logfmt.parse(output.lines[0]), uniquingKeysWith: { a, _ in a })
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let stamp = try #require(fields["ts"].flatMap { formatter.date(from: $0) }, "ts: \(fields["ts"] ?? "nil")")
        #expect(abs(stamp.timeIntervalSince(before)) < 5)
        #expect(fields["ts"]?.hasSuffix("Z") == true)
    }

    @Test("timestamps of known instants: the epoch, a leap day, the last microsecond of a year, both kinds of buffer")
    func knownTimestamps() {
        let cases: [(UInt64, String)] = [
            (0, "1970-01-01T00:00:00.000000Z"),
            (951_782_400_123_456_789, "2000-02-29T00:00:00.123456Z"),
            (1_798_761_599_999_999_999, "2026-12-31T23:59:59.999999Z"),
            (4_102_444_800_000_001_000, "2100-01-01T00:00:00.000001Z"),
        ]
        for (nanoseconds, expected) in cases {
            var bytes = [UInt8]("ts=".utf8)
            UTCTimestamp.appendRFC3339(nanoseconds, to: &bytes)
            #expect(String(decoding: bytes, as: UTF8.self) == "ts=" + expected)
            let line = withLineBuffer { buffer in
                buffer.append("ts=")
                UTCTimestamp.appendRFC3339(nanoseconds, to: &buffer)
                return buffer.withBytes { String(decoding: $0, as: UTF8.self) }
            }
            #expect(line == "ts=" + expected)
        }
    }

    @Test("lines inside a span carry its trace_id and span_id; lines outside do not")
    func traceCorrelation() throws {
        let output = InMemoryLogOutput()
        let (logger, sink) = self.makeLogger(.logfmt, output: output)
        var context = ServiceContext.topLevel
        let spanContext = SpanContext(
            traceID: try #require(TraceID(hex: "0af7651916cd43dd8448eb211c80319c")),
            spanID: try #require(SpanID(hex: "b7ad6b7169203331")),
            flags: .sampled
        )
        context.spanContext = spanContext
        ServiceContext.$current.withValue(context) {
            logger.info("inside")
        }
        logger.info("outside")
        sink.flush()
        let inside = Dictionary(try Logfmt.parse(output.lines[0]), uniquingKeysWith: { a, _ in a })
        let outside = Dictionary(try Logfmt.parse(output.lines[1]), uniquingKeysWith: { a, _ in a })
        #expect(inside["trace_id"] == "0af7651916cd43dd8448eb211c80319c")
        #expect(inside["span_id"] == "b7ad6b7169203331")
        #expect(outside["trace_id"] == nil)

        let provided = ServiceContext.$current.withValue(context) { Logger.MetadataProvider.kiteTraceCorrelation.get() }
        #expect(provided["trace_id"] == "0af7651916cd43dd8448eb211c80319c")
    }

    @Test("lines below the level are not written")
    func levelFilter() {
        let output = InMemoryLogOutput()
        let (logger, sink) = self.makeLogger(.logfmt, output: output, level: .notice)
        logger.info("dropped")
        logger.notice("kept")
        sink.flush()
        #expect(output.lines.count == 1)
        #expect(output.lines.first?.contains("msg=kept") == true)
    }

    @Test("a stuck output never blocks the caller; lines past the buffer are dropped and counted", .timeLimit(.minutes(1)))
    func stuckOutputDropsAndCounts() async throws {
        let output = GatedOutput()
        let sink = LogSink(output: output, capacity: 4096)
        let logger = Logger(label: "test") { KiteLogHandler(label: $0, sink: sink) }
        logger.info("first")  // taken by the writer, which then blocks in the output
        try await waitForWriterToBlock(output)
        let total = 500
        for index in 0..<total {
            logger.info("line", metadata: ["index": "\(index)"])
        }
        #expect(sink.droppedLines > 0)
        output.open()
        sink.flush()
        let written = output.lines.count
        #expect(UInt64(written) + sink.droppedLines == UInt64(total + 1))
        sink.shutdown()
    }

    @Test("a metadata value whose description logs does not deadlock: both lines are written", .timeLimit(.minutes(1)))
    func describingLogs() {
        let output = InMemoryLogOutput()
        var (logger, sink) = self.makeLogger(.logfmt, output: output)
        let chatty = Chatty(logger: logger)
        logger[metadataKey: "handler"] = .stringConvertible(chatty)
        logger.info("outer", metadata: ["value": .stringConvertible(chatty), "nested": ["inner": .stringConvertible(chatty)]])
        sink.flush()
        #expect(
            output.lines.contains {
                $0.contains("msg=outer") && $0.contains("handler=chatty") && $0.contains("value=chatty") && $0.contains("nested.inner=chatty")
            },
            "\(output.lines)"
        )
        #expect(output.lines.filter { $0.contains("msg=describing") }.count == 3)
        sink.shutdown()
    }

    func waitForWriterToBlock(_ output: GatedOutput) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !output.isBlocked {
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            await Task.yield()
        }
    }

    @Test("hex: every byte value, at every position of inputs of 1 to 20 bytes, gives its two lowercase digits")
    func hexDigits() {
        let reference = { (bytes: [UInt8]) in bytes.map { String($0 >> 4, radix: 16) + String($0 & 0x0F, radix: 16) }.joined() }
        for length in 1...20 {
            for position in 0..<length {
                for value in 0...255 {
                    var bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
                    bytes[position] = UInt8(value)
                    var text: [UInt8] = []
                    bytes.withUnsafeBytes { Hex.append($0, to: &text) }
                    guard String(decoding: text, as: UTF8.self) == reference(bytes) else {
                        Issue.record("\(bytes) gave \(String(decoding: text, as: UTF8.self))")
                        return
                    }
                }
            }
        }
    }
}

/// An output that holds the writer until `open()` is called.
final class GatedOutput: LogOutput {
    private let state = Mutex<(open: Bool, blocked: Bool, bytes: [UInt8])>((false, false, []))
    private let gate = DispatchSemaphore(value: 0)

    func write(_ bytes: UnsafeRawBufferPointer) {
        let mustWait = self.state.withLock { state -> Bool in
            state.bytes.append(contentsOf: bytes)
            if !state.open { state.blocked = true }
            return !state.open
        }
        if mustWait { self.gate.wait() }
    }

    var isBlocked: Bool { self.state.withLock { $0.blocked } }

    func open() {
        self.state.withLock { $0.open = true }
        self.gate.signal()
    }

    var lines: [String] {
        self.state.withLock { $0.bytes }.split(separator: UInt8(ascii: "\n")).map { String(decoding: $0, as: UTF8.self) }
    }
}

extension TraceID {
    init?(hex: String) {
        guard let context = try? TraceContext(traceParentHeaderValue: "00-\(hex)-0000000000000001-01") else { return nil }
        self = context.traceID
    }
}

extension SpanID {
    init?(hex: String) {
        guard let context = try? TraceContext(traceParentHeaderValue: "00-00000000000000000000000000000001-\(hex)-01") else { return nil }
        self = context.spanID
    }
}

/// A value whose description logs through the same logger (as a lazily described model might).
struct Chatty: CustomStringConvertible, Sendable {
    let logger: Logger
    var description: String {
        self.logger.info("describing")
        return "chatty"
    }
}
