import KiteTelemetry
import NIOCore

extension ByteBuffer {
    /// Writes `value` as a JSON string literal: quotes, backslashes and control characters
    /// escaped, everything else (including `/` and non-ASCII) as it is, in runs.
    package mutating func writeJSONString(_ value: String) {
        var value = value
        self.writeInteger(UInt8(ascii: "\""))
        value.withUTF8 { bytes in
            var runStart = 0
            for index in bytes.indices {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                self.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[runStart..<index]))
                switch byte {
                case UInt8(ascii: "\""): self.writeStaticString(#"\""#)
                case UInt8(ascii: "\\"): self.writeStaticString(#"\\"#)
                case UInt8(ascii: "\n"): self.writeStaticString(#"\n"#)
                case UInt8(ascii: "\r"): self.writeStaticString(#"\r"#)
                case UInt8(ascii: "\t"): self.writeStaticString(#"\t"#)
                default:
                    self.writeStaticString(#"\u00"#)
                    self.writeInteger(Hex.digit(byte >> 4))
                    self.writeInteger(Hex.digit(byte & 0x0F))
                }
                runStart = index + 1
            }
            self.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[runStart...]))
        }
        self.writeInteger(UInt8(ascii: "\""))
    }
}
