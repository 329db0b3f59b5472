import Foundation
import NIOCore

/// Splits what a NATS server sends into ``NATSServerOperation``s.
///
/// Bounded: a control line longer than ``maxControlLine`` or a message larger than
/// ``maxMessageSize`` is a protocol violation (the connection is closed) before any of it is
/// buffered past the limit. A frame is consumed only once all of it has arrived.
struct NATSOperationDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = NATSServerOperation

    /// The longest control line accepted (nats-server's own limit is 4096).
    let maxControlLine: Int
    /// The largest message accepted, headers and payload together.
    let maxMessageSize: Int

    init(maxControlLine: Int = 4096, maxMessageSize: Int = 64 << 20) {
        self.maxControlLine = maxControlLine
        self.maxMessageSize = maxMessageSize
    }

    mutating func decode(buffer: inout ByteBuffer) throws -> NATSServerOperation? {
        let view = buffer.readableBytesView
        let searched = view.prefix(self.maxControlLine + 2)
        guard let newline = searched.firstIndex(of: UInt8(ascii: "\n")) else {
            if view.count > self.maxControlLine + 1 {
                throw NATSError.protocolViolation("control line longer than \(self.maxControlLine) bytes")
            }
            return nil
        }
        var lineEnd = newline
        if lineEnd > view.startIndex, view[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
        let line = view[view.startIndex..<lineEnd]
        let lineLength = newline + 1 - view.startIndex
        let fields = line.split(maxSplits: 6, omittingEmptySubsequences: true) {
            $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t")
        }
        guard let verb = fields.first else {
            throw NATSError.protocolViolation("empty control line")
        }
        switch Verb(verb) {
        case .msg:
            // MSG <subject> <sid> [reply-to] <#bytes>
            guard fields.count == 4 || fields.count == 5, let size = Self.integer(fields[fields.count - 1]) else {
                throw NATSError.protocolViolation("malformed MSG line")
            }
            return try self.message(
                &buffer, fields: fields, headerSize: 0, totalSize: size, lineLength: lineLength
            )
        case .hmsg:
            // HMSG <subject> <sid> [reply-to] <#header bytes> <#total bytes>
            guard fields.count == 5 || fields.count == 6,
                let headerSize = Self.integer(fields[fields.count - 2]),
                let totalSize = Self.integer(fields[fields.count - 1]),
                headerSize <= totalSize
            else {
                throw NATSError.protocolViolation("malformed HMSG line")
            }
            return try self.message(
                &buffer, fields: Array(fields.dropLast()), headerSize: headerSize, totalSize: totalSize, lineLength: lineLength
            )
        case .ping:
            buffer.moveReaderIndex(forwardBy: lineLength)
            return .ping
        case .pong:
            buffer.moveReaderIndex(forwardBy: lineLength)
            return .pong
        case .ok:
            buffer.moveReaderIndex(forwardBy: lineLength)
            return .ok
        case .err:
            var message = String(decoding: line.dropFirst(4), as: UTF8.self).trimmingCharacters(in: .whitespaces)
            if message.hasPrefix("'"), message.hasSuffix("'"), message.count >= 2 { message = String(message.dropFirst().dropLast()) }
            buffer.moveReaderIndex(forwardBy: lineLength)
            return .error(message)
        case .info:
            let json = line.drop { $0 != UInt8(ascii: "{") }
            let info: NATSServerInfo
            do {
                info = try JSONDecoder().decode(NATSServerInfo.self, from: Data(json))
            } catch {
                throw NATSError.protocolViolation("malformed INFO: \(error)")
            }
            buffer.moveReaderIndex(forwardBy: lineLength)
            return .info(info)
        case nil:
            throw NATSError.protocolViolation("unknown operation '\(String(decoding: verb.prefix(16), as: UTF8.self))'")
        }
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> NATSServerOperation? {
        try self.decode(buffer: &buffer)
    }

    /// A `MSG`/`HMSG` frame once all of it is in `buffer`; `fields` end with the header size
    /// (HMSG) or the payload size (MSG).
    private func message(
        _ buffer: inout ByteBuffer,
        fields: [ByteBufferView.SubSequence],
        headerSize: Int,
        totalSize: Int,
        lineLength: Int
    ) throws -> NATSServerOperation? {
        guard totalSize <= self.maxMessageSize else {
            throw NATSError.protocolViolation("message of \(totalSize) bytes exceeds the limit of \(self.maxMessageSize)")
        }
        guard let sid = Self.integer(fields[2]) else { throw NATSError.protocolViolation("malformed subscription id") }
        guard buffer.readableBytes >= lineLength + totalSize + 2 else { return nil }
        let start = buffer.readerIndex + lineLength
        guard buffer.getInteger(at: start + totalSize, as: UInt16.self) == 0x0D0A else {
            throw NATSError.protocolViolation("message is not followed by CRLF")
        }
        let subject = String(decoding: fields[1], as: UTF8.self)
        let replyTo = fields.count == 5 ? String(decoding: fields[3], as: UTF8.self) : nil
        var headers: NATSHeaders?
        if headerSize > 0, let block = buffer.getSlice(at: start, length: headerSize) {
            headers = try NATSHeaders.parse(block)
        }
        let payload = buffer.getSlice(at: start + headerSize, length: totalSize - headerSize) ?? ByteBuffer()
        buffer.moveReaderIndex(forwardBy: lineLength + totalSize + 2)
        return .message(sid: sid, NATSMessage(subject: subject, replyTo: replyTo, headers: headers, payload: payload))
    }

    /// A non-negative decimal number of at most 18 digits.
    private static func integer(_ bytes: ByteBufferView.SubSequence) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
        var value = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    /// The operations, recognised in any case without making a string.
    private enum Verb {
        case msg, hmsg, ping, pong, ok, err, info

        init?(_ bytes: ByteBufferView.SubSequence) {
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
}
