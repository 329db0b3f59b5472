import NIOCore

/// The headers of a NATS message (`HPUB`/`HMSG`): `NATS/1.0` with an optional status, then
/// `Name: Value` lines — the shape of HTTP/1 headers.
///
/// Names keep their case on the wire and are looked up without regard to case; a name may
/// repeat. Kite uses them for trace context (`traceparent`, `tracestate`, `baggage`), the
/// caller's timeout (`Kite-Timeout`) and errors (`Nats-Service-Error`,
/// `Nats-Service-Error-Code` as the NATS services API has them, and `Kite-Error-Code`).
public struct NATSHeaders: Sendable, Hashable, Sequence {
    /// One header line.
    public struct Field: Sendable, Hashable {
        public var name: String
        public var value: String
    }

    /// The header lines, in order.
    public private(set) var fields: [Field]
    /// The status of the first line (`NATS/1.0 503`), which the server sets on the messages it
    /// makes itself (`503`: no responders).
    public var status: Int?
    /// The words after the status (`No Responders`).
    public var statusDescription: String

    /// Empty headers.
    public init() {
        self.fields = []
        self.status = nil
        self.statusDescription = ""
    }

    /// Headers from `name: value` pairs.
    public init(_ pairs: KeyValuePairs<String, String>) {
        self.init()
        for (name, value) in pairs { self.add(name: name, value: value) }
    }

    public var isEmpty: Bool { self.fields.isEmpty && self.status == nil }

    /// The first value of `name` (any case); setting replaces every value of `name`, `nil`
    /// removes them.
    public subscript(name: String) -> String? {
        get { self.fields.first { Self.equal($0.name, name) }?.value }
        set {
            guard let newValue else {
                self.fields.removeAll { Self.equal($0.name, name) }
                return
            }
            let index = self.fields.firstIndex { Self.equal($0.name, name) } ?? self.fields.endIndex
            self.fields.removeAll { Self.equal($0.name, name) }
            self.fields.insert(Field(name: name, value: newValue), at: index)
        }
    }

    /// Every value of `name`, in order.
    public func values(for name: String) -> [String] {
        self.fields.filter { Self.equal($0.name, name) }.map(\.value)
    }

    /// Adds a line, keeping the ones of the same name.
    public mutating func add(name: String, value: String) {
        self.fields.append(Field(name: name, value: value))
    }

    public func makeIterator() -> IndexingIterator<[Field]> {
        self.fields.makeIterator()
    }

    /// Equal names, ASCII letters compared without case, nothing allocated.
    private static func equal(_ a: String, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        for (x, y) in zip(a.utf8, b.utf8) where x != y {
            guard x | 0x20 == y | 0x20, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(x | 0x20) else { return false }
        }
        return true
    }

    // MARK: Wire form

    /// Writes the header block, through its closing empty line.
    /// - Throws: ``NATSError/invalidHeader(name:)`` for a name or value that cannot be written.
    func write(to buffer: inout ByteBuffer) throws(NATSError) {
        for field in self.fields {
            guard Self.isValidName(field.name) else { throw .invalidHeader(name: field.name) }
            guard field.value.utf8.allSatisfy({ $0 != 0x0D && $0 != 0x0A }) else { throw .invalidHeader(name: field.name) }
        }
        buffer.writeStaticString("NATS/1.0")
        if let status = self.status {
            buffer.writeStaticString(" ")
            buffer.writeString(String(status))
            if !self.statusDescription.isEmpty {
                buffer.writeStaticString(" ")
                buffer.writeString(self.statusDescription.filter { $0 != "\r" && $0 != "\n" })
            }
        }
        buffer.writeStaticString("\r\n")
        for field in self.fields {
            buffer.writeString(field.name)
            buffer.writeStaticString(": ")
            buffer.writeString(field.value)
            buffer.writeStaticString("\r\n")
        }
        buffer.writeStaticString("\r\n")
    }

    private static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") }
    }

    /// Reads a header block (what `HMSG` says is its header part), byte by byte: one string per
    /// name and per value, nothing else allocated but the field list.
    /// - Throws: ``NATSError/protocolViolation(_:)`` when it does not start with `NATS/1.0` or
    ///   has a line without a colon.
    static func parse(_ block: ByteBuffer) throws(NATSError) -> NATSHeaders {
        var headers = NATSHeaders()
        let parsed: NATSError? = block.withUnsafeReadableBytes { bytes -> NATSError? in
            var lines = HeaderLines(bytes: bytes)
            guard let first = lines.next(), first.count >= 8,
                first.prefix(8).elementsEqual("NATS/1.0".utf8)
            else {
                return .protocolViolation("message headers do not start with NATS/1.0")
            }
            let status = Self.trimmed(UnsafeRawBufferPointer(rebasing: first.dropFirst(8)))
            if !status.isEmpty {
                let code = status.prefix { $0 != UInt8(ascii: " ") }
                guard let value = Int(String(decoding: code, as: UTF8.self)) else {
                    return .protocolViolation("message header status '\(String(decoding: code, as: UTF8.self))' is not a number")
                }
                headers.status = value
                headers.statusDescription = String(decoding: Self.trimmed(UnsafeRawBufferPointer(rebasing: status.dropFirst(code.count))), as: UTF8.self)
            }
            headers.fields.reserveCapacity(4)
            while let line = lines.next() {
                guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
                    return .protocolViolation("message header line without ':'")
                }
                let name = Self.trimmed(UnsafeRawBufferPointer(rebasing: line[line.startIndex..<colon]))
                let value = Self.trimmed(UnsafeRawBufferPointer(rebasing: line[(colon + 1)...]))
                headers.fields.append(Field(name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self)))
            }
            return nil
        }
        if let parsed { throw parsed }
        return headers
    }

    /// `bytes` without spaces and tabs at either end.
    private static func trimmed(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end, bytes[start] == UInt8(ascii: " ") || bytes[start] == UInt8(ascii: "\t") { start += 1 }
        while end > start, bytes[end - 1] == UInt8(ascii: " ") || bytes[end - 1] == UInt8(ascii: "\t") { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
    }

    /// The non-empty lines of a header block, split at CRLF (or a lone LF).
    private struct HeaderLines {
        let bytes: UnsafeRawBufferPointer
        var position = 0

        mutating func next() -> Slice<UnsafeRawBufferPointer>? {
            while self.position < self.bytes.count {
                let start = self.position
                var end = start
                while end < self.bytes.count, self.bytes[end] != UInt8(ascii: "\n") { end += 1 }
                self.position = end + 1
                var lineEnd = end
                if lineEnd > start, self.bytes[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
                if lineEnd > start { return self.bytes[start..<lineEnd] }
            }
            return nil
        }
    }
}
