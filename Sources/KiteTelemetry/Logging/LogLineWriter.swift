import Logging
import W3CTraceContext

/// Encodes the fields of one log line, in logfmt or JSON, straight into a byte buffer.
///
/// Whatever a key or value holds, the result is exactly one line that parses back to the same
/// keys and values: newlines and other control characters are escaped, never written raw.
struct LogLineWriter: ~Copyable {
    let format: LogFormat
    private var isFirst = true

    init(format: LogFormat) {
        self.format = format
    }

    mutating func begin(_ buffer: inout [UInt8]) {
        if self.format == .json { buffer.append(UInt8(ascii: "{")) }
        self.isFirst = true
    }

    mutating func end(_ buffer: inout [UInt8]) {
        if self.format == .json { buffer.append(UInt8(ascii: "}")) }
        buffer.append(UInt8(ascii: "\n"))
    }

    /// Writes the separator and `key` up to the value.
    private mutating func key(_ key: String, _ buffer: inout [UInt8]) {
        switch self.format {
        case .logfmt:
            if !self.isFirst { buffer.append(UInt8(ascii: " ")) }
            Self.appendLogfmtKey(key, to: &buffer)
            buffer.append(UInt8(ascii: "="))
        case .json:
            if !self.isFirst { buffer.append(UInt8(ascii: ",")) }
            Self.appendJSONString(key, to: &buffer)
            buffer.append(UInt8(ascii: ":"))
        }
        self.isFirst = false
    }

    mutating func field(_ key: String, _ value: String, _ buffer: inout [UInt8]) {
        self.key(key, &buffer)
        switch self.format {
        case .logfmt: Self.appendLogfmtValue(value, to: &buffer)
        case .json: Self.appendJSONString(value, to: &buffer)
        }
    }

    /// A value made only of characters that never need quoting or escaping (hex IDs, timestamps).
    mutating func plainField(_ key: String, _ buffer: inout [UInt8], value: (inout [UInt8]) -> Void) {
        self.key(key, &buffer)
        if self.format == .json { buffer.append(UInt8(ascii: "\"")) }
        value(&buffer)
        if self.format == .json { buffer.append(UInt8(ascii: "\"")) }
    }

    mutating func field(_ key: String, _ value: Logger.MetadataValue, _ buffer: inout [UInt8]) {
        switch (value, self.format) {
        case (.string(let string), _):
            self.field(key, string, &buffer)
        case (.stringConvertible(let convertible), _):
            self.field(key, convertible.description, &buffer)
        case (.dictionary(let dictionary), .logfmt):
            // logfmt has no nesting: `parent.child=value`.
            for (child, nested) in dictionary {
                self.field("\(key).\(child)", nested, &buffer)
            }
        case (.array, .logfmt):
            self.field(key, value.description, &buffer)
        case (.dictionary, .json), (.array, .json):
            self.key(key, &buffer)
            Self.appendJSONValue(value, to: &buffer)
        }
    }

    // MARK: logfmt

    static func appendLogfmtKey(_ key: String, to buffer: inout [UInt8]) {
        if key.isEmpty {
            buffer.append(UInt8(ascii: "_"))
            return
        }
        for byte in key.utf8 {
            let invalid = byte <= 0x20 || byte == 0x7F || byte == UInt8(ascii: "=") || byte == UInt8(ascii: "\"")
            buffer.append(invalid ? UInt8(ascii: "_") : byte)
        }
    }

    static func appendLogfmtValue(_ value: String, to buffer: inout [UInt8]) {
        var needsQuotes = value.isEmpty
        for byte in value.utf8
        where byte <= 0x20 || byte == 0x7F || byte == UInt8(ascii: "=") || byte == UInt8(ascii: "\"")
            || byte == UInt8(ascii: "\\")
        {
            needsQuotes = true
            break
        }
        guard needsQuotes else {
            buffer.append(contentsOf: value.utf8)
            return
        }
        buffer.append(UInt8(ascii: "\""))
        self.appendEscaped(value, to: &buffer)
        buffer.append(UInt8(ascii: "\""))
    }

    // MARK: JSON

    static func appendJSONString(_ value: String, to buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "\""))
        self.appendEscaped(value, to: &buffer)
        buffer.append(UInt8(ascii: "\""))
    }

    static func appendJSONValue(_ value: Logger.MetadataValue, to buffer: inout [UInt8]) {
        switch value {
        case .string(let string):
            self.appendJSONString(string, to: &buffer)
        case .stringConvertible(let convertible):
            self.appendJSONString(convertible.description, to: &buffer)
        case .array(let array):
            buffer.append(UInt8(ascii: "["))
            for (index, element) in array.enumerated() {
                if index > 0 { buffer.append(UInt8(ascii: ",")) }
                self.appendJSONValue(element, to: &buffer)
            }
            buffer.append(UInt8(ascii: "]"))
        case .dictionary(let dictionary):
            buffer.append(UInt8(ascii: "{"))
            for (index, (key, element)) in dictionary.enumerated() {
                if index > 0 { buffer.append(UInt8(ascii: ",")) }
                self.appendJSONString(key, to: &buffer)
                buffer.append(UInt8(ascii: ":"))
                self.appendJSONValue(element, to: &buffer)
            }
            buffer.append(UInt8(ascii: "}"))
        }
    }

    /// The escapes logfmt's quoted strings and JSON strings share: `\\`, `\"`, `\n`, `\r`, `\t`
    /// and `\u00XX` for the other control characters (and DEL). UTF-8 above ASCII is copied.
    static func appendEscaped(_ value: String, to buffer: inout [UInt8]) {
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): buffer.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): buffer.append(contentsOf: #"\\"#.utf8)
            case UInt8(ascii: "\n"): buffer.append(contentsOf: #"\n"#.utf8)
            case UInt8(ascii: "\r"): buffer.append(contentsOf: #"\r"#.utf8)
            case UInt8(ascii: "\t"): buffer.append(contentsOf: #"\t"#.utf8)
            case 0..<0x20, 0x7F:
                buffer.append(contentsOf: #"\u00"#.utf8)
                buffer.append(Hex.digit(byte >> 4))
                buffer.append(Hex.digit(byte & 0x0F))
            default:
                buffer.append(byte)
            }
        }
    }
}

/// Lowercase hexadecimal.
enum Hex {
    static func digit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") &+ nibble : UInt8(ascii: "a") &+ nibble &- 10
    }

    /// Appends `bytes` as lowercase hex.
    static func append(_ bytes: UnsafeRawBufferPointer, to buffer: inout [UInt8]) {
        for byte in bytes {
            buffer.append(self.digit(byte >> 4))
            buffer.append(self.digit(byte & 0x0F))
        }
    }

    static func append(_ id: TraceID, to buffer: inout [UInt8]) {
        withUnsafeBytes(of: id.bytes) { self.append($0, to: &buffer) }
    }

    static func append(_ id: SpanID, to buffer: inout [UInt8]) {
        withUnsafeBytes(of: id.bytes) { self.append($0, to: &buffer) }
    }

    /// The value of one hex digit, or `nil`. Accepts upper and lower case.
    static func value(of digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit &- UInt8(ascii: "A") &+ 10
        default: nil
        }
    }

    /// Decodes exactly `count` bytes from `2 * count` hex digits; `nil` on any other input.
    static func decode(_ text: Substring.UTF8View, count: Int) -> [UInt8]? {
        guard text.count == count * 2 else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(count)
        var iterator = text.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            guard let highValue = self.value(of: high), let lowValue = self.value(of: low) else { return nil }
            bytes.append(highValue << 4 | lowValue)
        }
        return bytes
    }
}
