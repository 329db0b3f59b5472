/// The byte-level rules of JSON text that the scanner, the decoder and the encoder share.
enum JSONText {
    /// The value of one hex digit, or `nil`.
    @inline(__always)
    static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit &- UInt8(ascii: "A") &+ 10
        default: nil
        }
    }

    /// The string a scanned string's bytes (between the quotes) stand for, escapes resolved.
    /// The bytes have passed ``JSONScanner``: escapes and surrogate pairs are valid.
    static func unescape(_ bytes: UnsafeRawBufferPointer) -> String {
        var utf8 = [UInt8]()
        utf8.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "\\") else {
                utf8.append(byte)
                index += 1
                continue
            }
            let escape = bytes[index + 1]
            index += 2
            switch escape {
            case UInt8(ascii: "b"): utf8.append(0x08)
            case UInt8(ascii: "f"): utf8.append(0x0C)
            case UInt8(ascii: "n"): utf8.append(0x0A)
            case UInt8(ascii: "r"): utf8.append(0x0D)
            case UInt8(ascii: "t"): utf8.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = UInt32(self.unit(bytes, at: index))
                index += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    let low = UInt32(self.unit(bytes, at: index + 2))
                    index += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                // The scanner let through only scalars (paired surrogates), so this never falls back.
                let character = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                utf8.append(contentsOf: String(character).utf8)
            default: utf8.append(escape)  // `"`, `\` and `/` stand for themselves
            }
        }
        return String(decoding: utf8, as: UTF8.self)
    }

    private static func unit(_ bytes: UnsafeRawBufferPointer, at index: Int) -> UInt16 {
        var unit: UInt16 = 0
        for offset in 0..<4 { unit = unit << 4 | UInt16(self.hexValue(bytes[index + offset]) ?? 0) }
        return unit
    }
}
