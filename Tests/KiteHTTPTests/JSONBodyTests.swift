import Foundation
import Kite
@testable import KiteHTTP
import NIOCore
import Testing

/// Kite's JSON coders against Foundation's: the same values, the same bytes, the same verdicts
/// on malformed documents and the same error messages.
@Suite("JSON bodies")
struct JSONBodyTests {
    struct Inner: Codable, Equatable {
        var name: String
        var tags: [String]
        var weight: Double?
    }

    enum Kind: String, Codable { case small, large }

    struct Everything: Codable, Equatable {
        var text: String
        var escaped: String
        var flag: Bool
        var int: Int
        var negative: Int64
        var small: Int8
        var unsigned: UInt64
        var double: Double
        var integralDouble: Double
        var tiny: Double
        var float: Float
        var optional: String?
        var missingOptional: Int?
        var kind: Kind
        var inner: Inner
        var list: [Inner]
        var matrix: [[Int]]
        var map: [String: Int]
        var data: Data
        var url: URL
        var date: Date
        var decimal: Decimal
    }

    static let everything = Everything(
        text: "hello / world",
        escaped: "quote \" backslash \\ newline \n tab \t bell \u{07} é 😀",
        flag: true,
        int: 42,
        negative: Int64.min,
        small: -128,
        unsigned: UInt64.max,
        double: 3.141592653589793,
        integralDouble: 1_000_000,
        tiny: 1.5e-300,
        float: 0.1,
        optional: "here",
        missingOptional: nil,
        kind: .large,
        inner: Inner(name: "a", tags: ["x", "y"], weight: nil),
        list: [Inner(name: "b", tags: [], weight: 2.5)],
        matrix: [[1, 2], [], [3]],
        map: ["one": 1],
        data: Data([0, 1, 2, 250, 255]),
        url: URL(string: "https://example.com/a?b=c")!,
        date: Date(timeIntervalSinceReferenceDate: 123_456.5),
        decimal: Decimal(string: "12.345")!
    )

    func decode<Value: Decodable>(_ type: Value.Type, _ text: String) throws -> Value {
        try JSONBody.decodeOrThrow(type, from: ByteBuffer(string: text))
    }

    func foundationEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        return encoder
    }

    @Test("writes the document Foundation writes, keys in encoding order, and each reads the other's")
    func sameDocumentBothWays() throws {
        let ours = try JSONBody.encode(Self.everything)
        let theirs = try self.foundationEncoder().encode(Self.everything)
        // Foundation orders keys by its dictionary's hashing: compare documents, not bytes.
        let ourDocument = try JSONSerialization.jsonObject(with: Data(ours.readableBytesView)) as? NSDictionary
        let theirDocument = try JSONSerialization.jsonObject(with: theirs) as? NSDictionary
        #expect(ourDocument != nil && ourDocument == theirDocument)
        #expect(String(buffer: ours).hasPrefix(#"{"text":"hello / world","escaped":"quote \" backslash"#))
        #expect(try JSONDecoder().decode(Everything.self, from: Data(ours.readableBytesView)) == Self.everything)
        #expect(try JSONBody.decodeOrThrow(Everything.self, from: ByteBuffer(bytes: theirs)) == Self.everything)
    }

    @Test("top-level scalars, arrays, optionals and empty values as Foundation writes them")
    func smallDocuments() throws {
        struct Empty: Codable, Equatable {}
        func same<Value: Encodable>(_ value: Value) throws {
            let ours = String(buffer: try JSONBody.encode(value))
            let theirs = String(decoding: try self.foundationEncoder().encode(value), as: UTF8.self)
            #expect(ours == theirs, "\(value)")
        }
        try same("text")
        try same(7)
        try same(-0.0)
        try same(1e21)
        try same(0.000001)
        try same([Int?.none, 1])
        try same(Empty())
        try same([String: [Int]]())
        try same([1.5, 2])
        #expect(try self.decode([Int?].self, "[null, 1 ,2]\n") == [nil, 1, 2])
        #expect(try self.decode(Empty.self, " {} ") == Empty())
        #expect(try self.decode(Double.self, "-0") == 0)
        #expect(try self.decode(Int.self, "1e3") == 1000)
        #expect(try self.decode(Int.self, "2.0") == 2)
    }

    @Test("strings: every escape, surrogate pairs, UTF-8 kept as it is")
    func strings() throws {
        #expect(try self.decode(String.self, #""\"\\\/\b\f\n\r\t\u0041\u00e9\ud83d\ude00""#) == "\"\\/\u{08}\u{0C}\n\r\tAé😀")
        #expect(try self.decode(String.self, "\"é😀\"") == "é😀")
        struct Keyed: Decodable { var é: Int }
        #expect(try self.decode(Keyed.self, #"{"\u00e9": 1}"#).é == 1)
        #expect(try self.decode([String: Int].self, #"{"a":1,"a":2}"#) == ["a": 2])
    }

    @Test("malformed documents are refused, as Foundation refuses them, with the same message")
    func malformed() throws {
        struct Request: Codable { var s: String }
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        let documents: [[UInt8]] = [
            [], Array("{".utf8), Array(#"{"s":}"#.utf8), Array("[1,]".utf8),
            Array(#"{"s" "a"}"#.utf8), Array(#"{s:"a"}"#.utf8), Array("01".utf8), Array("1.".utf8), Array("-".utf8),
            Array("1e".utf8), Array("nan".utf8), Array("tru".utf8), Array(#"{"s":"a"} x"#.utf8),
            Array(#""\ud800""#.utf8), Array(#""\udc00""#.utf8), Array(#""\x""#.utf8), Array(#""\u12""#.utf8),
            Array("\"a\nb\"".utf8), [0x22, 0xFF, 0x22], [0x22, 0xC0, 0x80, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22],
            [0x22, 0xE2, 0x82, 0x22], Array(deep.utf8),
        ]
        for document in documents {
            #expect(throws: (any Error).self, "Foundation accepts \(document)") {
                try JSONDecoder().decode([String: String].self, from: Data(document))
            }
            let error = #expect(throws: HTTPTransportError.self, "\(String(decoding: document, as: UTF8.self))") {
                try JSONBody.decode(Request.self, from: ByteBuffer(bytes: document))
            }
            #expect(error == .malformedRequest("body is not valid JSON"))
        }
        // RFC 8259 has no trailing comma in objects; Foundation lets one through, Kite does not.
        let trailingComma = #expect(throws: HTTPTransportError.self) {
            try JSONBody.decode(Request.self, from: ByteBuffer(string: #"{"s":"a",}"#))
        }
        #expect(trailingComma == .malformedRequest("body is not valid JSON"))
    }

    @Test("a missing field, a wrong type, a null and an out-of-range number are named as before")
    func decodingErrors() throws {
        struct Request: Codable {
            var s: String
            var n: Int8
            var inner: Inner?
        }
        let cases = [
            #"{"n":1}"#, #"{"s":1,"n":1}"#, #"{"s":null,"n":1}"#,
            #"{"s":"a","n":1,"inner":{"name":"x"}}"#, #"{"s":"a","n":1,"inner":{"name":"x","tags":[1]}}"#, #"[]"#,
        ]
        for text in cases {
            var foundation = ""
            do {
                _ = try JSONDecoder().decode(Request.self, from: Data(text.utf8))
            } catch let error as DecodingError {
                foundation = JSONCoding.describe(error)
            }
            let error = #expect(throws: HTTPTransportError.self, "\(text)") {
                try JSONBody.decode(Request.self, from: ByteBuffer(string: text))
            }
            #expect(error == .malformedRequest(foundation), "\(text)")
        }
        // Foundation reports a number out of its field's range with an empty coding path ("body
        // is not valid JSON"); Kite names the field.
        for text in [#"{"s":"a","n":300}"#, #"{"s":"a","n":1.5}"#] {
            let error = #expect(throws: HTTPTransportError.self, "\(text)") {
                try JSONBody.decode(Request.self, from: ByteBuffer(string: text))
            }
            #expect(error == .malformedRequest("field 'n' is invalid"), "\(text)")
        }
    }

    @Test("large objects take linear time both ways, and a repeated key keeps its last value", .timeLimit(.minutes(1)))
    func largeObjects() throws {
        // 100,000 members (about 1.5 MB): with a scan per key this would take minutes.
        let map = Dictionary(uniqueKeysWithValues: (0..<100_000).map { ("key\($0)", $0) })
        let encoded = try JSONBody.encode(map)
        #expect(try JSONBody.decodeOrThrow([String: Int].self, from: encoded) == map)
        #expect(try JSONDecoder().decode([String: Int].self, from: Data(encoded.readableBytesView)) == map)
        let repeated = "{" + (0..<40).map { #""k\#($0 % 20)":\#($0)"# }.joined(separator: ",") + "}"
        let decoded = try self.decode([String: Int].self, repeated)
        #expect(decoded.count == 20 && decoded["k3"] == 23)
    }

    @Test("a non-finite number cannot be encoded")
    func nonFinite() {
        #expect(throws: EncodingError.self) { try JSONBody.encode([Double.nan]) }
        #expect(throws: EncodingError.self) { try JSONBody.encode(["x": Float.infinity]) }
    }
}
