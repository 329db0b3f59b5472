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

    /// Reads a header block (what `HMSG` says is its header part).
    /// - Throws: ``NATSError/protocolViolation(_:)`` when it does not start with `NATS/1.0` or
    ///   has a line without a colon.
    static func parse(_ block: ByteBuffer) throws(NATSError) -> NATSHeaders {
        var headers = NATSHeaders()
        let text = String(decoding: block.readableBytesView, as: UTF8.self)
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: true).makeIterator()
        guard let first = lines.next(), first.hasPrefix("NATS/1.0") else {
            throw .protocolViolation("message headers do not start with NATS/1.0")
        }
        let status = first.dropFirst("NATS/1.0".count).drop { $0 == " " }
        if !status.isEmpty {
            let code = status.prefix { $0 != " " }
            guard let value = Int(code) else { throw .protocolViolation("message header status '\(code)' is not a number") }
            headers.status = value
            headers.statusDescription = String(status.dropFirst(code.count).drop { $0 == " " })
        }
        while let line = lines.next() {
            guard let colon = line.firstIndex(of: ":") else {
                throw .protocolViolation("message header line without ':'")
            }
            let name = line[..<colon].trimmingSpaces()
            let value = line[line.index(after: colon)...].trimmingSpaces()
            headers.fields.append(Field(name: String(name), value: String(value)))
        }
        return headers
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> Substring {
        var trimmed = self
        while let first = trimmed.first, first == " " || first == "\t" { trimmed.removeFirst() }
        while let last = trimmed.last, last == " " || last == "\t" { trimmed.removeLast() }
        return trimmed
    }
}
