import Logging
import W3CTraceContext

/// Encodes the fields of one log line, in logfmt or JSON, straight into a byte buffer.
///
/// Whatever a key or value holds, the result is exactly one line that parses back to the same
/// keys and values: newlines and other control characters are escaped, never written raw.
struct LogLineWriter: ~Copyable {
    let format: LogFormat
    private var isFirst = true

    /// A writer at the start of a line, or (`continuingLine`) one whose first field follows
    /// others already written.
    init(format: LogFormat, continuingLine: Bool = false) {
        self.format = format
        self.isFirst = !continuingLine
    }

    mutating func begin(_ buffer: inout LineBuffer) {
        if self.format == .json { buffer.append(UInt8(ascii: "{")) }
        self.isFirst = true
    }

    mutating func end(_ buffer: inout LineBuffer) {
        if self.format == .json { buffer.append(UInt8(ascii: "}")) }
        buffer.append(UInt8(ascii: "\n"))
    }

    /// Writes the separator and `key` up to the value.
    private mutating func key(_ key: String, _ buffer: inout LineBuffer) {
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

    /// Writes the separator and a key of Kite's own, which needs no sanitising, up to the value.
    private mutating func fixedKey(_ key: StaticString, _ buffer: inout LineBuffer) {
        switch self.format {
        case .logfmt:
            if !self.isFirst { buffer.append(UInt8(ascii: " ")) }
            buffer.append(key)
            buffer.append(UInt8(ascii: "="))
        case .json:
            buffer.append(self.isFirst ? #"""# : #",""#)
            buffer.append(key)
            buffer.append(#"":"#)
        }
        self.isFirst = false
    }

    /// A field whose key is `prefix` (one of Kite's own, such as `attr.`) followed by `key`.
    mutating func prefixedField(_ prefix: StaticString, _ key: String, _ value: String, _ buffer: inout LineBuffer) {
        var key = key
        key.withUTF8 { self.prefixedField(prefix, utf8: $0, .text(value), &buffer) }
    }

    /// ``prefixedField(_:_:_:_:)`` with the key, and the value unless it is `text`, given as
    /// UTF-8 bytes (where a span keeps them), so that no string is made for either.
    mutating func prefixedField(_ prefix: StaticString, utf8 key: UnsafeBufferPointer<UInt8>, _ value: AttributeText, _ buffer: inout LineBuffer) {
        switch self.format {
        case .logfmt:
            if !self.isFirst { buffer.append(UInt8(ascii: " ")) }
            buffer.append(prefix)
            Self.appendLogfmtKey(utf8: key, to: &buffer)
            buffer.append(UInt8(ascii: "="))
        case .json:
            buffer.append(self.isFirst ? #"""# : #",""#)
            buffer.append(prefix)
            Self.appendEscaped(key, to: &buffer)
            buffer.append(#"":"#)
        }
        self.isFirst = false
        switch value {
        case .utf8(let bytes): self.value(utf8: bytes, &buffer)
        case .text(let text): self.value(text, &buffer)
        }
    }

    mutating func field(_ key: String, _ value: String, _ buffer: inout LineBuffer) {
        self.key(key, &buffer)
        self.value(value, &buffer)
    }

    /// A field whose key is one of Kite's own (`msg`, `level`, …).
    mutating func fixedField(_ key: StaticString, _ value: String, _ buffer: inout LineBuffer) {
        self.fixedKey(key, &buffer)
        self.value(value, &buffer)
    }

    private func value(_ value: String, _ buffer: inout LineBuffer) {
        var value = value
        value.withUTF8 { self.value(utf8: $0, &buffer) }
    }

    private func value(utf8 bytes: UnsafeBufferPointer<UInt8>, _ buffer: inout LineBuffer) {
        switch self.format {
        case .logfmt: Self.appendLogfmtValue(utf8: bytes, to: &buffer)
        case .json: Self.appendJSONString(utf8: bytes, to: &buffer)
        }
    }

    /// A field of Kite's own whose value has only characters that never need quoting or
    /// escaping (hex IDs, timestamps, level names).
    mutating func plainField(_ key: StaticString, _ buffer: inout LineBuffer, value: (inout LineBuffer) -> Void) {
        self.fixedKey(key, &buffer)
        if self.format == .json { buffer.append(UInt8(ascii: "\"")) }
        value(&buffer)
        if self.format == .json { buffer.append(UInt8(ascii: "\"")) }
    }

    mutating func field(_ key: String, _ value: Logger.MetadataValue, _ buffer: inout LineBuffer) {
        switch value {
        case .string(let string):
            self.field(key, string, &buffer)
        case .stringConvertible(let convertible):
            self.field(key, convertible.description, &buffer)
        case .dictionary(let dictionary) where self.format == .logfmt:
            // logfmt has no nesting: `parent.child=value`.
            for (child, nested) in dictionary {
                self.field("\(key).\(child)", nested, &buffer)
            }
        case .array where self.format == .logfmt:
            self.field(key, value.description, &buffer)
        case .dictionary, .array:
            self.key(key, &buffer)
            Self.appendJSONValue(value, to: &buffer)
        }
    }

    // MARK: logfmt

    static func appendLogfmtKey(_ key: String, to buffer: inout LineBuffer) {
        var key = key
        key.withUTF8 { Self.appendLogfmtKey(utf8: $0, to: &buffer) }
    }

    /// A key given as its UTF-8 bytes.
    static func appendLogfmtKey(utf8 bytes: UnsafeBufferPointer<UInt8>, to buffer: inout LineBuffer) {
        guard !bytes.isEmpty else {
            buffer.append(UInt8(ascii: "_"))
            return
        }
        // Every byte a key may not hold also makes a value quoted: the word-at-a-time test
        // clears nearly every key at once; a key it flags is checked byte by byte.
        guard Self.anyNeedsLogfmtQuotes(UnsafeRawBufferPointer(bytes)), bytes.contains(where: Self.isInvalidInLogfmtKey) else {
            buffer.append(bytes: UnsafeRawBufferPointer(bytes))
            return
        }
        for byte in bytes {
            buffer.append(Self.isInvalidInLogfmtKey(byte) ? UInt8(ascii: "_") : byte)
        }
    }

    static func appendLogfmtValue(_ value: String, to buffer: inout LineBuffer) {
        var value = value
        value.withUTF8 { Self.appendLogfmtValue(utf8: $0, to: &buffer) }
    }

    /// A value given as its UTF-8 bytes.
    static func appendLogfmtValue(utf8 bytes: UnsafeBufferPointer<UInt8>, to buffer: inout LineBuffer) {
        if !bytes.isEmpty && !Self.anyNeedsLogfmtQuotes(UnsafeRawBufferPointer(bytes)) {
            buffer.append(bytes: UnsafeRawBufferPointer(bytes))
            return
        }
        buffer.append(UInt8(ascii: "\""))
        Self.appendEscaped(bytes, to: &buffer)
        buffer.append(UInt8(ascii: "\""))
    }

    /// Bytes a logfmt key may not hold (they become `_`): space, controls, `=`, `"`.
    @inline(__always)
    static func isInvalidInLogfmtKey(_ byte: UInt8) -> Bool {
        byte <= 0x20 || byte == 0x7F || byte == UInt8(ascii: "=") || byte == UInt8(ascii: "\"")
    }

    /// Whether any byte of `bytes` makes a logfmt value quoted (``needsLogfmtQuotes(_:)``),
    /// tested eight bytes at a time.
    static func anyNeedsLogfmtQuotes(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        while index &+ 8 <= bytes.count {
            if Self.wordNeedsLogfmtQuotes(bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)) { return true }
            index &+= 8
        }
        while index < bytes.count {
            if Self.needsLogfmtQuotes(bytes[index]) { return true }
            index &+= 1
        }
        return false
    }

    /// Whether any of the eight bytes in `word` is below 0x21, or is `"`, `=`, `\` or DEL. The
    /// classic tests "a byte below n" and "a zero byte" (of `word` XOR the byte repeated) never
    /// miss one; they may flag a second byte above a true one, which does not change the answer.
    @inline(__always)
    private static func wordNeedsLogfmtQuotes(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        @inline(__always) func hasZero(_ value: UInt64) -> UInt64 { (value &- ones) & ~value & highs }
        let below = (word &- ones &* 0x21) & ~word & highs
        let quote = hasZero(word ^ (ones &* 0x22))
        let equals = hasZero(word ^ (ones &* 0x3D))
        let backslash = hasZero(word ^ (ones &* 0x5C))
        let delete = hasZero(word ^ (ones &* 0x7F))
        return below | quote | equals | backslash | delete != 0
    }

    /// Bytes that make a logfmt value quoted: space, controls, `=`, `"`, `\`.
    @inline(__always)
    static func needsLogfmtQuotes(_ byte: UInt8) -> Bool {
        byte <= 0x20 || byte == 0x7F || byte == UInt8(ascii: "=") || byte == UInt8(ascii: "\"")
            || byte == UInt8(ascii: "\\")
    }

    // MARK: JSON

    static func appendJSONString(_ value: String, to buffer: inout LineBuffer) {
        var value = value
        value.withUTF8 { Self.appendJSONString(utf8: $0, to: &buffer) }
    }

    /// A JSON string given as its UTF-8 bytes.
    static func appendJSONString(utf8 bytes: UnsafeBufferPointer<UInt8>, to buffer: inout LineBuffer) {
        buffer.append(UInt8(ascii: "\""))
        Self.appendEscaped(bytes, to: &buffer)
        buffer.append(UInt8(ascii: "\""))
    }

    static func appendJSONValue(_ value: Logger.MetadataValue, to buffer: inout LineBuffer) {
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
    /// Runs of bytes that need no escape are copied in one go.
    static func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>, to buffer: inout LineBuffer) {
        var runStart = 0
        for index in bytes.indices {
            let byte = bytes[index]
            let escape: StaticString
            switch byte {
            case UInt8(ascii: "\""): escape = #"\""#
            case UInt8(ascii: "\\"): escape = #"\\"#
            case UInt8(ascii: "\n"): escape = #"\n"#
            case UInt8(ascii: "\r"): escape = #"\r"#
            case UInt8(ascii: "\t"): escape = #"\t"#
            case 0..<0x20, 0x7F: escape = #"\u00"#
            default: continue
            }
            buffer.append(bytes: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[runStart..<index]))
            buffer.append(escape)
            if escape.utf8CodeUnitCount == 4 {
                buffer.append(Hex.digit(byte >> 4))
                buffer.append(Hex.digit(byte & 0x0F))
            }
            runStart = index + 1
        }
        buffer.append(bytes: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[runStart...]))
    }
}

/// Lowercase hexadecimal (shared with the HTTP transport's JSON coders).
package enum Hex {
    /// The lowercase digit of a nibble (0–15).
    package static func digit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") &+ nibble : UInt8(ascii: "a") &+ nibble &- 10
    }

    /// Appends `bytes` as lowercase hex, written in place, four bytes (eight digits) at a time.
    static func append<Output: ByteOutput & ~Copyable>(_ bytes: UnsafeRawBufferPointer, to output: inout Output) {
        output.append(count: bytes.count &* 2) { text in
            var index = 0
            while index &+ 4 <= bytes.count {
                let word = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt32.self))
                text.storeBytes(of: Self.digits(of: word).littleEndian, toByteOffset: 2 &* index, as: UInt64.self)
                index &+= 4
            }
            while index < bytes.count {
                text[2 &* index] = self.digit(bytes[index] >> 4)
                text[2 &* index &+ 1] = self.digit(bytes[index] & 0x0F)
                index &+= 1
            }
        }
    }

    /// The eight lowercase digits of four bytes: byte `i` of `word` (from the low end) gives
    /// bytes `2i` (its high nibble) and `2i + 1` (its low nibble) of the result.
    @inline(__always)
    static func digits(of word: UInt32) -> UInt64 {
        // Each byte to the low half of its own 16 bits.
        var spread = UInt64(word)
        spread = (spread | spread << 16) & 0x0000_FFFF_0000_FFFF
        spread = (spread | spread << 8) & 0x00FF_00FF_00FF_00FF
        let lowNibbles: UInt64 = 0x000F_000F_000F_000F
        let nibbles = (spread >> 4) & lowNibbles | (spread & lowNibbles) << 8
        // 1 in each byte whose nibble is 10–15 (adding 6 carries it into bit 4; no byte overflows).
        let letters = ((nibbles &+ 0x0606_0606_0606_0606) & 0x1010_1010_1010_1010) >> 4
        // '0' + nibble, and `'a' - '0' - 10` more for a letter.
        return nibbles &+ 0x3030_3030_3030_3030 &+ letters &* 0x27
    }

    static func append<Output: ByteOutput & ~Copyable>(_ id: TraceID, to output: inout Output) {
        withUnsafeBytes(of: id.bytes) { self.append($0, to: &output) }
    }

    static func append<Output: ByteOutput & ~Copyable>(_ id: SpanID, to output: inout Output) {
        withUnsafeBytes(of: id.bytes) { self.append($0, to: &output) }
    }

    /// The value of one hex digit, or `nil`. Accepts upper and lower case.
    package static func value(of digit: UInt8) -> UInt8? {
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
