import KiteTelemetry

/// The byte-level rules of JSON text that the scanner, the decoder and the encoder share.
enum JSONText {
    /// Objects with more members than this are indexed by name, when decoded and when encoded:
    /// a lookup is then a hash rather than a scan, so an object of n members takes O(n), not
    /// O(n²) — hostile bodies of many keys included.
    static let indexedObjectSize = 16

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
                var scalar = UInt32(self.codeUnit(bytes, at: index) ?? 0)
                index += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    let low = UInt32(self.codeUnit(bytes, at: index + 2) ?? 0)
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

    /// The UTF-16 code unit of the four hex digits at `index` (after a `\u`), or `nil` when
    /// there are not four hex digits there.
    static func codeUnit(_ bytes: UnsafeRawBufferPointer, at index: Int) -> UInt16? {
        guard bytes.count - index >= 4 else { return nil }
        var unit: UInt16 = 0
        for offset in 0..<4 {
            guard let digit = Hex.value(of: bytes[index + offset]) else { return nil }
            unit = unit << 4 | UInt16(digit)
        }
        return unit
    }
}
