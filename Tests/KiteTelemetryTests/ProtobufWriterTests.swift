@testable import KiteTelemetry
import Testing

@Suite("Protobuf writer")
struct ProtobufWriterTests {
    @Test("raw bytes of every length up to 40 are appended exactly, after any number of bytes written before, across the buffer's growth")
    func appendsExactly() {
        for offset in 0..<20 {
            for length in 0...40 {
                let before = (0..<offset).map { UInt8(truncatingIfNeeded: 200 &+ $0) }
                let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
                // A capacity of 64 (the least) grows within the loop's larger cases.
                var writer = ProtobufWriter(capacity: 1)
                before.withUnsafeBytes { writer.append($0) }
                bytes.withUnsafeBytes { writer.append($0) }
                let trailer: [UInt8] = [0xEE]
                trailer.withUnsafeBytes { writer.append($0) }
                let written = writer.bytes
                #expect(written == before + bytes + trailer, "offset \(offset), length \(length)")
            }
        }
    }

    @Test("varints of every size are written as base-128 groups, least significant first")
    func varints() {
        var values: [UInt64] = [0, 1, 0x7F, 0x80, 0xFF, 0x3FFF, 0x4000, .max]
        for shift in 0..<64 { values.append(1 << UInt64(shift)) }
        for value in values {
            var writer = ProtobufWriter()
            writer.varint(value)
            var expected: [UInt8] = []
            var rest = value
            repeat {
                let group = UInt8(rest & 0x7F)
                rest >>= 7
                expected.append(rest == 0 ? group : group | 0x80)
            } while rest != 0
            #expect(writer.bytes == expected, "\(value)")
            #expect(writer.count == ProtobufWriter.varintSize(value))
        }
    }
}
