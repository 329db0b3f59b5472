import NIOCore

/// The DNS wire format (RFC 1035) as far as SRV lookups need it: a query for one name, and the SRV
/// records of its answer. Every length and pointer in an answer is checked against the message.
enum DNSMessage {
    static let typeSRV: UInt16 = 33
    static let classIN: UInt16 = 1
    static let headerBytes = 12
    /// The longest name the protocol allows, in bytes on the wire.
    static let maxNameBytes = 255

    /// What an answer says.
    struct Answer: Equatable {
        var id: UInt16
        var truncated: Bool
        var rcode: Int
        var records: [SRVRecord]
    }

    /// A standard query (recursion desired) for the SRV records of `name`.
    static func query(id: UInt16, name: String) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(id)
        buffer.writeInteger(UInt16(0x0100))  // RD
        buffer.writeInteger(UInt16(1))  // one question
        buffer.writeInteger(UInt16(0))
        buffer.writeInteger(UInt16(0))
        buffer.writeInteger(UInt16(0))
        try Self.writeName(name, into: &buffer)
        buffer.writeInteger(Self.typeSRV)
        buffer.writeInteger(Self.classIN)
        return buffer
    }

    static func writeName(_ name: String, into buffer: inout ByteBuffer) throws {
        let trimmed = name.hasSuffix(".") ? String(name.dropLast()) : name
        var written = 1
        for label in trimmed.split(separator: ".", omittingEmptySubsequences: false) {
            let bytes = Array(label.utf8)
            guard !bytes.isEmpty, bytes.count <= 63 else {
                throw DNSError.malformed("the name \"\(name)\" has an empty label or one longer than 63 bytes")
            }
            written += bytes.count + 1
            guard written <= Self.maxNameBytes else { throw DNSError.malformed("the name \"\(name)\" is longer than 255 bytes") }
            buffer.writeInteger(UInt8(bytes.count))
            buffer.writeBytes(bytes)
        }
        buffer.writeInteger(UInt8(0))
    }

    /// Reads an answer: its header, and the SRV records (class IN) among its answers.
    static func parse(_ bytes: ByteBuffer) throws -> Answer {
        let message = Array(bytes.readableBytesView)
        var reader = Reader(message: message)
        let id = try reader.uint16()
        let flags = try reader.uint16()
        guard flags & 0x8000 != 0 else { throw DNSError.malformed("a query, not a response") }
        let questions = Int(try reader.uint16())
        let answers = Int(try reader.uint16())
        _ = try reader.uint16()  // authority
        _ = try reader.uint16()  // additional
        for _ in 0..<questions {
            _ = try reader.name()
            try reader.skip(4)
        }
        var records: [SRVRecord] = []
        let truncated = flags & 0x0200 != 0
        for _ in 0..<answers {
            do {
                guard let record = try reader.record(end: message.count) else { continue }
                records.append(record)
            } catch {
                // A truncated answer may stop anywhere: keep the records that were whole (the
                // caller asks again over TCP).
                if truncated { break }
                throw error
            }
        }
        return Answer(id: id, truncated: truncated, rcode: Int(flags & 0x000F), records: records)
    }

    /// Reads a message front to back, refusing to read past its end.
    struct Reader {
        let message: [UInt8]
        var offset = 0

        var atEnd: Bool { self.offset >= self.message.count }

        mutating func skip(_ count: Int) throws {
            guard self.offset + count <= self.message.count else { throw DNSError.malformed("the message ends early") }
            self.offset += count
        }

        mutating func uint16() throws -> UInt16 {
            guard self.offset + 2 <= self.message.count else { throw DNSError.malformed("the message ends early") }
            defer { self.offset += 2 }
            return UInt16(self.message[self.offset]) << 8 | UInt16(self.message[self.offset + 1])
        }

        mutating func uint32() throws -> UInt32 {
            UInt32(try self.uint16()) << 16 | UInt32(try self.uint16())
        }

        /// One resource record: the SRV record it holds, or `nil` for a record of another type or class.
        mutating func record(end messageEnd: Int) throws -> SRVRecord? {
            _ = try self.name()
            let type = try self.uint16()
            let recordClass = try self.uint16()
            let ttl = try self.uint32()
            let length = Int(try self.uint16())
            let end = self.offset + length
            guard end <= messageEnd else { throw DNSError.malformed("a record's length runs past the message") }
            defer { self.offset = end }
            guard type == DNSMessage.typeSRV && recordClass == DNSMessage.classIN else { return nil }
            guard length >= 7 else { throw DNSError.malformed("an SRV record of \(length) bytes") }
            let priority = try self.uint16()
            let weight = try self.uint16()
            let port = try self.uint16()
            let target = try self.name()
            guard self.offset <= end else { throw DNSError.malformed("an SRV target runs past its record") }
            return SRVRecord(priority: priority, weight: weight, port: port, target: target, ttl: ttl)
        }

        /// A name, following compression pointers. Each pointer must point before the start of the
        /// stretch of labels it ends (as every real pointer does: to a name written earlier), so the
        /// stretches start ever earlier and a loop is impossible.
        mutating func name() throws -> String {
            var labels: [String] = []
            var position = self.offset
            var stretchStart = self.offset
            var resumeAt: Int?
            var length = 1
            while true {
                guard position < self.message.count else { throw DNSError.malformed("a name runs past the message") }
                let byte = self.message[position]
                switch byte & 0xC0 {
                case 0x00:
                    if byte == 0 {
                        self.offset = resumeAt ?? position + 1
                        return labels.isEmpty ? "." : labels.joined(separator: ".")
                    }
                    let count = Int(byte)
                    guard position + 1 + count <= self.message.count else { throw DNSError.malformed("a label runs past the message") }
                    length += count + 1
                    guard length <= DNSMessage.maxNameBytes else { throw DNSError.malformed("a name longer than 255 bytes") }
                    labels.append(String(decoding: self.message[(position + 1)..<(position + 1 + count)], as: UTF8.self))
                    position += 1 + count
                case 0xC0:
                    guard position + 1 < self.message.count else { throw DNSError.malformed("a pointer runs past the message") }
                    let target = Int(byte & 0x3F) << 8 | Int(self.message[position + 1])
                    guard target < stretchStart else { throw DNSError.malformed("a compression pointer that does not point back (a loop)") }
                    if resumeAt == nil { resumeAt = position + 2 }
                    position = target
                    stretchStart = target
                default:
                    throw DNSError.malformed("a label of an unknown kind (0x\(String(byte, radix: 16)))")
                }
            }
        }
    }
}
