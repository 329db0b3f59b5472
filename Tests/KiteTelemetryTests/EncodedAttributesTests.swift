import Testing
import Tracing

@testable import KiteTelemetry

/// A span's attributes set one by one are kept encoded (`EncodedAttributes`): what is exported must
/// be the encoder's `KeyValue` of each attribute, in first-set order, and what is read back must be
/// what was set.
@Suite("Attributes kept encoded")
struct EncodedAttributesTests {
    /// `attributes`, each encoded on its own as `Span.attributes` by the writer's general path.
    static func separatelyEncoded(_ attributes: [(String, SpanAttribute)], maxValueLength: Int = .max) -> [UInt8] {
        var writer = ProtobufWriter()
        for (key, value) in attributes {
            writer.keyValue(9, key: key, value: value, maxValueLength: maxValueLength)
        }
        return writer.bytes
    }

    /// The list encoded as the span encoder writes it; how many values were cut.
    static func encoded(_ list: SpanAttributeList, maxValueLength: Int = .max) -> (bytes: [UInt8], truncated: Int) {
        var writer = ProtobufWriter()
        let truncated = list.write(into: &writer, maxValueLength: maxValueLength)
        return (writer.bytes, truncated)
    }

    static func readBack(_ list: SpanAttributeList) -> [(String, SpanAttribute)] {
        var read: [(String, SpanAttribute)] = []
        list.forEach { read.append(($0, $1)) }
        return read
    }

    static func same(_ left: [(String, SpanAttribute)], _ right: [(String, SpanAttribute)]) -> Bool {
        left.count == right.count && zip(left, right).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }

    @Test("replacements that grow, shrink and change kind keep each key once, in first-set order, exported and read back as set")
    func replacements() {
        var list = SpanAttributeList()
        let long = String(repeating: "ü", count: 100)  // a length of two varint bytes
        list.set("method", .string("GET"))
        list.set("status", .int64(200))
        list.set("", .string("empty key"))
        list.set("ratio", .double(0.5))
        list.set("retry", .bool(true))
        list.set("note", .string("short"))
        list.set("kind", .int32Array([1]))  // another kind: held beside the block
        list.set("note", .string(long))  // grows, in the middle
        list.set("method", .string(""))  // shrinks, at the start
        list.set("status", .int64(.min))  // a ten-byte varint
        list.set("kind", .string("scalar now"))  // another kind becomes a string
        list.set("retry", .int32(7))  // a Boolean becomes another kind
        list.set("retry", .int32(8))  // and is replaced as one
        list.set(String(repeating: "k", count: 130), .bool(false))
        let expected: [(String, SpanAttribute)] = [
            ("method", .string("")),
            ("status", .int64(.min)),
            ("", .string("empty key")),
            ("ratio", .double(0.5)),
            ("retry", .int32(8)),
            ("note", .string(long)),
            ("kind", .string("scalar now")),
            (String(repeating: "k", count: 130), .bool(false)),
        ]
        #expect(list.count == expected.count)
        #expect(Self.same(Self.readBack(list), expected))
        #expect(list["retry"] == .int32(8))
        #expect(list["note"] == .string(long))
        #expect(list["missing"] == nil)
        let (bytes, truncated) = Self.encoded(list)
        #expect(bytes == Self.separatelyEncoded(expected))
        #expect(truncated == 0)
    }

    @Test("with scalars alone the block is exported as kept, the same bytes as each attribute encoded on its own")
    func scalarsAlone() {
        var list = SpanAttributeList()
        var expected: [(String, SpanAttribute)] = []
        // More than a block starts with: it grows several times.
        for index in 0..<200 {
            let value: SpanAttribute =
                switch index % 4 {
                case 0: .string("value \(index)")
                case 1: .int64(Int64(index) * -1_000_003)
                case 2: .double(Double(index) / 3)
                default: .bool(index.isMultiple(of: 3))
                }
            list.set("key.\(index)", value)
            expected.append(("key.\(index)", value))
        }
        #expect(Self.same(Self.readBack(list), expected))
        #expect(Self.encoded(list).bytes == Self.separatelyEncoded(expected))
        #expect(list.spanAttributes.count == 200)
    }

    @Test("string values past the length limit are cut at a character boundary and counted; the others are copied as kept")
    func lengthLimit() {
        var list = SpanAttributeList()
        list.set("short", .string("abc"))
        list.set("long", .string("ääääää"))  // 12 bytes
        list.set("number", .int64(5))
        list.set("exact", .string("12345"))
        let (bytes, truncated) = Self.encoded(list, maxValueLength: 5)
        #expect(truncated == 1)
        #expect(bytes == Self.separatelyEncoded([("short", .string("abc")), ("long", .string("ää")), ("number", .int64(5)), ("exact", .string("12345"))]))
        // Replaced by a short value, the once-long one needs no cut.
        list.set("long", .string("ok"))
        #expect(Self.encoded(list, maxValueLength: 5).truncated == 0)
    }

    @Test("a copy keeps its attributes while the original changes, and the original its own while the copy changes")
    func copyOnWrite() {
        var original = SpanAttributeList()
        original.set("a", .string("1"))
        original.set("b", .int64(2))
        var copy = original
        original.set("a", .string("changed"))
        original.set("c", .bool(true))
        copy.set("b", .int64(20))
        #expect(Self.same(Self.readBack(original), [("a", .string("changed")), ("b", .int64(2)), ("c", .bool(true))]))
        #expect(Self.same(Self.readBack(copy), [("a", .string("1")), ("b", .int64(20))]))
    }

    @Test("a value described by the caller's code is found, also once replaced by another such value")
    func callerDescribed() {
        var list = SpanAttributeList()
        list.set("plain", .string("x"))
        #expect(!list.hasCallerDescribedValues)
        list.set("described", .stringConvertible(1.5))
        #expect(list.hasCallerDescribedValues)
        list.set("described", .stringConvertible(2.5))
        #expect(list["described"]?.textValue == "2.5")
        #expect(Self.encoded(list).bytes == Self.separatelyEncoded([("plain", .string("x")), ("described", .string("2.5"))]))
    }
}
