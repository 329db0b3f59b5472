import Foundation
import Kite
import KiteThrift

// Tests/Peers/thrift/kitetest.thrift, as plain Swift structs with field ids in their coding keys.

struct Inner: Codable, Hashable, Sendable {
    var name: String
    var size: Int32?

    enum CodingKeys: Int, CodingKey {
        case name = 1, size = 2
    }
}

struct Everything: Codable, Equatable, Sendable {
    var flag: Bool
    var small: Int8
    var shortNumber: Int16
    var number: Int32
    var big: Int64
    var ratio: Double
    var text: String
    var data: Data
    var numbers: [Int32]
    var tags: Set<String>
    var counts: [String: Int64]
    var inner: Inner
    var inners: [Inner]
    var note: String?
    var nested: [Int32: [String]]
    var off: Bool

    enum CodingKeys: Int, CodingKey {
        case flag = 1, small, shortNumber, number, big, ratio, text, data, numbers, tags, counts, inner, inners, note, nested, off
    }

    static func sample(note: String?) -> Everything {
        Everything(
            flag: true, small: -7, shortNumber: -300, number: 70000, big: -(1 << 40), ratio: 2.5,
            text: "héllo ✓ 日本", data: Data(0...255), numbers: [1, -2, 3], tags: ["a", "b"],
            counts: ["x": 1, "y": -(1 << 35)], inner: Inner(name: "in", size: 3),
            inners: [Inner(name: "one"), Inner(name: "two", size: 2)], note: note, nested: [1: ["a"], -2: []], off: false
        )
    }
}

struct EchoArguments: Codable, Sendable {
    var value: Everything
    enum CodingKeys: Int, CodingKey { case value = 1 }
}

struct AddArguments: Codable, Sendable {
    var a: Int64
    var b: Int64
    enum CodingKeys: Int, CodingKey { case a = 1, b = 2 }
}

struct FindArguments: Codable, Sendable {
    var key: String
    enum CodingKeys: Int, CodingKey { case key = 1 }
}

struct FireArguments: Codable, Sendable {
    var note: String
    enum CodingKeys: Int, CodingKey { case note = 1 }
}

struct NoArguments: Codable, Sendable {}

/// `exception NotFound`: a business error (the key is not there).
struct NotFound: ThriftException, ServiceError, Equatable {
    var what: String
    /// The IDL's `code` (the Swift name differs: `code` is the Kite error code).
    var errorCode: Int32
    var code: ErrorCode { .notFound }

    enum CodingKeys: Int, CodingKey { case what = 1, errorCode = 2 }
}

/// `exception Invalid`.
struct Invalid: ThriftException, ServiceError, Equatable {
    var reason: String
    var code: ErrorCode { .invalidArgument }

    enum CodingKeys: Int, CodingKey { case reason = 1 }
}

let findExceptions = ThriftExceptions([1: NotFound.self, 2: Invalid.self])
