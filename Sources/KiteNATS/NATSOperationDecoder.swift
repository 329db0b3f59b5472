import Foundation
import NIOCore

/// Splits what a NATS server sends into ``NATSServerOperation``s.
///
/// Bounded: a control line longer than ``maxControlLine`` or a message larger than
/// ``maxMessageSize`` is a protocol violation (the connection is closed) before any of it is
/// buffered past the limit. A frame is consumed only once all of it has arrived. The control line
/// is scanned in place: a message costs its subject and reply strings, its headers, and nothing
/// else.
@_spi(Benchmarks)
public struct NATSOperationDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = NATSServerOperation

    /// The longest control line accepted (nats-server's own limit is 4096).
    let maxControlLine: Int
    /// The largest message accepted, headers and payload together.
    let maxMessageSize: Int

    public init(maxControlLine: Int = 4096, maxMessageSize: Int = 64 << 20) {
        self.maxControlLine = maxControlLine
        self.maxMessageSize = maxMessageSize
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> NATSServerOperation? {
        let maxControlLine = self.maxControlLine
        guard let line = try buffer.withUnsafeReadableBytes({ bytes throws -> ControlLine? in
            try ControlLine(bytes, maxLength: maxControlLine)
        }) else {
            return nil
        }
        let base = buffer.readerIndex
        switch line.verb {
        case .msg:
            // MSG <subject> <sid> [reply-to] <#bytes>
            guard line.count == 3 || line.count == 4, let size = line.integer(line.count - 1, in: buffer) else {
                throw NATSError.protocolViolation("malformed MSG line")
            }
            return try self.message(&buffer, line: line, hasReply: line.count == 4, headerSize: 0, totalSize: size)
        case .hmsg:
            // HMSG <subject> <sid> [reply-to] <#header bytes> <#total bytes>
            guard line.count == 4 || line.count == 5,
                let headerSize = line.integer(line.count - 2, in: buffer),
                let totalSize = line.integer(line.count - 1, in: buffer),
                headerSize <= totalSize
            else {
                throw NATSError.protocolViolation("malformed HMSG line")
            }
            return try self.message(&buffer, line: line, hasReply: line.count == 5, headerSize: headerSize, totalSize: totalSize)
        case .ping:
            buffer.moveReaderIndex(forwardBy: line.length)
            return .ping
        case .pong:
            buffer.moveReaderIndex(forwardBy: line.length)
            return .pong
        case .ok:
            buffer.moveReaderIndex(forwardBy: line.length)
            return .ok
        case .err:
            let text = buffer.getString(at: base + line.verbEnd, length: line.contentEnd - line.verbEnd) ?? ""
            var message = text.trimmingCharacters(in: .whitespaces)
            if message.hasPrefix("'"), message.hasSuffix("'"), message.count >= 2 { message = String(message.dropFirst().dropLast()) }
            buffer.moveReaderIndex(forwardBy: line.length)
            return .error(message)
        case .info:
            let json = buffer.getBytes(at: base + line.verbEnd, length: line.contentEnd - line.verbEnd) ?? []
            let info: NATSServerInfo
            do {
                info = try JSONDecoder().decode(NATSServerInfo.self, from: Data(json))
            } catch {
                throw NATSError.protocolViolation("malformed INFO: \(error)")
            }
            buffer.moveReaderIndex(forwardBy: line.length)
            return .info(info)
        }
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> NATSServerOperation? {
        try self.decode(buffer: &buffer)
    }

    /// A `MSG`/`HMSG` frame once all of it is in `buffer`.
    private func message(
        _ buffer: inout ByteBuffer,
        line: ControlLine,
        hasReply: Bool,
        headerSize: Int,
        totalSize: Int
    ) throws -> NATSServerOperation? {
        guard totalSize <= self.maxMessageSize else {
            throw NATSError.protocolViolation("message of \(totalSize) bytes exceeds the limit of \(self.maxMessageSize)")
        }
        guard let sid = line.integer(1, in: buffer) else { throw NATSError.protocolViolation("malformed subscription id") }
        guard buffer.readableBytes >= line.length + totalSize + 2 else { return nil }
        let start = buffer.readerIndex + line.length
        guard buffer.getInteger(at: start + totalSize, as: UInt16.self) == 0x0D0A else {
            throw NATSError.protocolViolation("message is not followed by CRLF")
        }
        let subject = line.string(0, in: buffer)
        let replyTo = hasReply ? line.string(2, in: buffer) : nil
        var headers: NATSHeaders?
        if headerSize > 0, let block = buffer.getSlice(at: start, length: headerSize) {
            headers = try NATSHeaders.parse(block)
        }
        let payload = buffer.getSlice(at: start + headerSize, length: totalSize - headerSize) ?? ByteBuffer()
        buffer.moveReaderIndex(forwardBy: line.length + totalSize + 2)
        return .message(sid: sid, NATSMessage(subject: subject, replyTo: replyTo, headers: headers, payload: payload))
    }

    /// The operations, recognised in any case without making a string.
    enum Verb {
        case msg, hmsg, ping, pong, ok, err, info

        init?(_ bytes: Slice<UnsafeRawBufferPointer>) {
            func matches(_ word: StaticString) -> Bool {
                guard bytes.count == word.utf8CodeUnitCount else { return false }
                let expected = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
                for (byte, wanted) in zip(bytes, expected) {
                    let upper: UInt8 = byte >= 0x61 && byte <= 0x7A ? byte - 0x20 : byte
                    guard upper == wanted else { return false }
                }
                return true
            }
            if matches("MSG") {
                self = .msg
            } else if matches("HMSG") {
                self = .hmsg
            } else if matches("PING") {
                self = .ping
            } else if matches("PONG") {
                self = .pong
            } else if matches("+OK") {
                self = .ok
            } else if matches("-ERR") {
                self = .err
            } else if matches("INFO") {
                self = .info
            } else {
                return nil
            }
        }
    }

    /// One control line, scanned in place: the verb, up to five arguments (as offsets from the
    /// reader index), where its content ends and how long it is with its line end.
    struct ControlLine {
        var verb: Verb
        var verbEnd = 0
        var contentEnd = 0
        var length = 0
        var count = 0
        private var arguments: (Range<Int>, Range<Int>, Range<Int>, Range<Int>, Range<Int>) = (0..<0, 0..<0, 0..<0, 0..<0, 0..<0)

        /// `nil` while the line has not all arrived.
        init?(_ bytes: UnsafeRawBufferPointer, maxLength: Int) throws {
            let searched = min(bytes.count, maxLength + 2)
            var newline = -1
            for index in 0..<searched where bytes[index] == UInt8(ascii: "\n") {
                newline = index
                break
            }
            guard newline >= 0 else {
                if bytes.count > maxLength + 1 { throw NATSError.protocolViolation("control line longer than \(maxLength) bytes") }
                return nil
            }
            var end = newline
            if end > 0, bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            func isSpace(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
            var index = 0
            while index < end, isSpace(bytes[index]) { index += 1 }
            let verbStart = index
            while index < end, !isSpace(bytes[index]) { index += 1 }
            guard let verb = Verb(bytes[verbStart..<index]) else {
                throw NATSError.protocolViolation(
                    verbStart == index ? "empty control line" : "unknown operation '\(String(decoding: bytes[verbStart..<min(index, verbStart + 16)], as: UTF8.self))'"
                )
            }
            self.verb = verb
            self.verbEnd = index
            self.contentEnd = end
            self.length = newline + 1
            guard verb == .msg || verb == .hmsg else { return }
            while index < end {
                while index < end, isSpace(bytes[index]) { index += 1 }
                guard index < end else { break }
                let start = index
                while index < end, !isSpace(bytes[index]) { index += 1 }
                guard self.count < 5 else { throw NATSError.protocolViolation("malformed \(verb == .msg ? "MSG" : "HMSG") line") }
                self.set(self.count, start..<index)
                self.count += 1
            }
        }

        private mutating func set(_ index: Int, _ range: Range<Int>) {
            switch index {
            case 0: self.arguments.0 = range
            case 1: self.arguments.1 = range
            case 2: self.arguments.2 = range
            case 3: self.arguments.3 = range
            default: self.arguments.4 = range
            }
        }

        private func range(_ index: Int) -> Range<Int> {
            switch index {
            case 0: self.arguments.0
            case 1: self.arguments.1
            case 2: self.arguments.2
            case 3: self.arguments.3
            default: self.arguments.4
            }
        }

        func string(_ index: Int, in buffer: ByteBuffer) -> String {
            let range = self.range(index)
            return buffer.getString(at: buffer.readerIndex + range.lowerBound, length: range.count) ?? ""
        }

        /// A non-negative decimal number of at most 18 digits.
        func integer(_ index: Int, in buffer: ByteBuffer) -> Int? {
            let range = self.range(index)
            guard !range.isEmpty, range.count <= 18 else { return nil }
            var value = 0
            for offset in range {
                guard let byte = buffer.getInteger(at: buffer.readerIndex + offset, as: UInt8.self),
                    byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9")
                else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
    }
}
