/// One value of a JSON document as ``JSONScanner`` found it: its kind, where its bytes are and,
/// for arrays and objects, how many elements it has and where it ends.
struct JSONToken {
    enum Kind: UInt8 {
        case null, `true`, `false`, number
        /// A string without escapes: its bytes are its UTF-8.
        case string
        /// A string with at least one escape, to be unescaped when read.
        case escapedString
        case array, object
    }

    var kind: Kind
    /// Scalars: the first byte (for strings, the first byte after the opening quote).
    var start: Int
    /// Scalars: the byte count (for strings, without the quotes). Containers: the number of
    /// elements (members for an object).
    var count: Int
    /// The index of the token that follows this value and everything inside it.
    var next: Int
}

/// Why a body is not JSON, and where.
struct JSONSyntaxError: Error, CustomStringConvertible {
    let offset: Int
    let reason: String

    var description: String { "\(self.reason) at byte \(self.offset)" }
}

/// Checks a document against RFC 8259 and lists its values in document order, in one pass.
///
/// An object's members follow it as key, value, key, value; an array's elements follow it. Strings
/// are checked to be well-formed UTF-8 with valid escapes (surrogates in pairs), so reading them
/// later cannot fail. Nesting deeper than ``maximumDepth`` is refused, so that hostile input cannot
/// exhaust the stack.
struct JSONScanner: ~Copyable {
    static let maximumDepth = 512

    private let bytes: UnsafeRawBufferPointer
    private var position = 0
    private var tokens: [JSONToken] = []

    private init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        // A token needs at least two bytes of input, except in arrays of digits.
        self.tokens.reserveCapacity(min(bytes.count / 4 + 4, 1024))
    }

    /// The values of the document in `bytes`.
    static func scan(_ bytes: UnsafeRawBufferPointer) throws(JSONSyntaxError) -> [JSONToken] {
        var scanner = JSONScanner(bytes)
        scanner.skipWhitespace()
        try scanner.value(depth: 0)
        scanner.skipWhitespace()
        guard scanner.position == bytes.count else { throw scanner.error("unexpected data after the document") }
        return scanner.tokens
    }

    private func error(_ reason: String) -> JSONSyntaxError {
        JSONSyntaxError(offset: self.position, reason: reason)
    }

    private var current: UInt8? {
        self.position < self.bytes.count ? self.bytes[self.position] : nil
    }

    private mutating func skipWhitespace() {
        while self.position < self.bytes.count {
            switch self.bytes[self.position] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): self.position += 1
            default: return
            }
        }
    }

    private mutating func value(depth: Int) throws(JSONSyntaxError) {
        guard let byte = self.current else { throw self.error("unexpected end of input") }
        switch byte {
        case UInt8(ascii: "{"): try self.container(object: true, depth: depth)
        case UInt8(ascii: "["): try self.container(object: false, depth: depth)
        case UInt8(ascii: "\""): try self.string()
        case UInt8(ascii: "t"): try self.literal("true", .true)
        case UInt8(ascii: "f"): try self.literal("false", .false)
        case UInt8(ascii: "n"): try self.literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try self.number()
        default: throw self.error("unexpected character")
        }
    }

    private mutating func container(object: Bool, depth: Int) throws(JSONSyntaxError) {
        guard depth < Self.maximumDepth else { throw self.error("nesting deeper than \(Self.maximumDepth)") }
        let index = self.tokens.count
        self.tokens.append(JSONToken(kind: object ? .object : .array, start: self.position, count: 0, next: 0))
        let close = object ? UInt8(ascii: "}") : UInt8(ascii: "]")
        self.position += 1
        self.skipWhitespace()
        var count = 0
        if self.current == close {
            self.position += 1
        } else {
            while true {
                if object {
                    guard self.current == UInt8(ascii: "\"") else { throw self.error("expected a member name") }
                    try self.string()
                    self.skipWhitespace()
                    guard self.current == UInt8(ascii: ":") else { throw self.error("expected ':'") }
                    self.position += 1
                    self.skipWhitespace()
                }
                try self.value(depth: depth + 1)
                count += 1
                self.skipWhitespace()
                guard let separator = self.current else { throw self.error("unexpected end of input") }
                self.position += 1
                if separator == close { break }
                guard separator == UInt8(ascii: ",") else {
                    self.position -= 1
                    throw self.error(object ? "expected ',' or '}'" : "expected ',' or ']'")
                }
                self.skipWhitespace()
            }
        }
        self.tokens[index].count = count
        self.tokens[index].next = self.tokens.count
    }

    private mutating func literal(_ text: StaticString, _ kind: JSONToken.Kind) throws(JSONSyntaxError) {
        let length = text.utf8CodeUnitCount
        guard self.bytes.count - self.position >= length,
              text.withUTF8Buffer({ $0.elementsEqual(self.bytes[self.position..<(self.position + length)]) })
        else { throw self.error("unexpected character") }
        self.tokens.append(JSONToken(kind: kind, start: self.position, count: length, next: self.tokens.count + 1))
        self.position += length
    }

    private mutating func digits() -> Int {
        let start = self.position
        while let byte = self.current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { self.position += 1 }
        return self.position - start
    }

    private mutating func number() throws(JSONSyntaxError) {
        let start = self.position
        if self.current == UInt8(ascii: "-") { self.position += 1 }
        if self.current == UInt8(ascii: "0") {
            self.position += 1
        } else if self.digits() == 0 {
            throw self.error("expected a digit")
        }
        if self.current == UInt8(ascii: ".") {
            self.position += 1
            guard self.digits() > 0 else { throw self.error("expected a digit after '.'") }
        }
        if self.current == UInt8(ascii: "e") || self.current == UInt8(ascii: "E") {
            self.position += 1
            if self.current == UInt8(ascii: "+") || self.current == UInt8(ascii: "-") { self.position += 1 }
            guard self.digits() > 0 else { throw self.error("expected a digit in the exponent") }
        }
        self.tokens.append(JSONToken(kind: .number, start: start, count: self.position - start, next: self.tokens.count + 1))
    }

    private mutating func string() throws(JSONSyntaxError) {
        self.position += 1  // the opening quote
        let start = self.position
        var escaped = false
        while true {
            guard let byte = self.current else { throw self.error("unterminated string") }
            switch byte {
            case UInt8(ascii: "\""):
                self.tokens.append(
                    JSONToken(kind: escaped ? .escapedString : .string, start: start, count: self.position - start, next: self.tokens.count + 1)
                )
                self.position += 1
                return
            case UInt8(ascii: "\\"):
                escaped = true
                try self.escape()
            case 0..<0x20:
                throw self.error("control character in a string")
            case 0x80...:
                try self.utf8Sequence(startingWith: byte)
            default:
                self.position += 1
            }
        }
    }

    private mutating func escape() throws(JSONSyntaxError) {
        self.position += 1
        guard let byte = self.current else { throw self.error("unterminated string") }
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
             UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            self.position += 1
        case UInt8(ascii: "u"):
            let unit = try self.hexUnit()
            switch unit {
            case 0xD800...0xDBFF:
                // A high surrogate stands only before a low one.
                guard self.bytes.count - self.position >= 2,
                      self.bytes[self.position] == UInt8(ascii: "\\"),
                      self.bytes[self.position + 1] == UInt8(ascii: "u")
                else { throw self.error("unpaired surrogate in a \\u escape") }
                self.position += 1
                guard (0xDC00...0xDFFF).contains(try self.hexUnit()) else {
                    throw self.error("unpaired surrogate in a \\u escape")
                }
            case 0xDC00...0xDFFF:
                throw self.error("unpaired surrogate in a \\u escape")
            default:
                break
            }
        default:
            throw self.error("invalid escape")
        }
    }

    /// Reads `uXXXX` (the position at the `u`) and returns the code unit.
    private mutating func hexUnit() throws(JSONSyntaxError) -> UInt16 {
        guard let unit = JSONText.codeUnit(self.bytes, at: self.position + 1) else { throw self.error("invalid \\u escape") }
        self.position += 5
        return unit
    }

    /// Checks one multi-byte UTF-8 sequence (Unicode's table of well-formed sequences) and moves past it.
    private mutating func utf8Sequence(startingWith lead: UInt8) throws(JSONSyntaxError) {
        let length: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; secondRange = 0x80...0x9F
        case 0xF0: length = 4; secondRange = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; secondRange = 0x80...0x8F
        default: throw self.error("invalid UTF-8")
        }
        guard self.bytes.count - self.position >= length, secondRange.contains(self.bytes[self.position + 1]) else {
            throw self.error("invalid UTF-8")
        }
        for offset in 2..<length where !(0x80...0xBF).contains(self.bytes[self.position + offset]) {
            throw self.error("invalid UTF-8")
        }
        self.position += length
    }
}
