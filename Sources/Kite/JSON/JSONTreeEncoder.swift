import Foundation
import NIOCore

/// Kite's JSON `Encoder`: collects an `Encodable` value into a small tree (objects keep their keys
/// in the order they were encoded) and writes it out compactly.
///
/// It writes what Foundation's `JSONEncoder` writes with default options, except that `/` is not
/// escaped and keys keep the order they were encoded in (Foundation's follow its dictionary's
/// hashing; a key encoded twice keeps its first place and its last value): no whitespace, integral `Double`s without a fraction, `Data` as Base64, `URL` as its string,
/// an `Encodable` that encodes nothing as `{}`; a non-finite number is an `EncodingError`.
final class JSONTreeEncoder: Encoder {
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    /// What was encoded, once something was.
    fileprivate var node: JSONNode?

    init(codingPath: [any CodingKey]) {
        self.codingPath = codingPath
    }

    /// `value` as a JSON document.
    static func encode<Value: Encodable>(_ value: Value) throws -> ByteBuffer {
        let node = try JSONNode.encoding(value, path: [])
        var output = ByteBufferAllocator().buffer(capacity: 128)
        node.write(to: &output)
        return output
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let object: JSONObject
        if case .object(let existing) = self.node {
            object = existing
        } else {
            object = JSONObject()
            self.node = .object(object)
        }
        return KeyedEncodingContainer(KeyedContainer<Key>(object: object, codingPath: self.codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        let array: JSONArray
        if case .array(let existing) = self.node {
            array = existing
        } else {
            array = JSONArray()
            self.node = .array(array)
        }
        return UnkeyedContainer(array: array, codingPath: self.codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleValueContainer(encoder: self)
    }

    struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let object: JSONObject
        let codingPath: [any CodingKey]

        mutating func encodeNil(forKey key: Key) throws { self.object.set(key.stringValue, .null) }
        mutating func encode(_ value: Bool, forKey key: Key) throws { self.object.set(key.stringValue, .bool(value)) }
        mutating func encode(_ value: String, forKey key: Key) throws { self.object.set(key.stringValue, .string(value)) }
        mutating func encode(_ value: Double, forKey key: Key) throws {
            self.object.set(key.stringValue, try .double(value, path: self.codingPath + [key]))
        }
        mutating func encode(_ value: Float, forKey key: Key) throws {
            self.object.set(key.stringValue, try .float(value, path: self.codingPath + [key]))
        }
        mutating func encode(_ value: Int, forKey key: Key) throws { self.object.set(key.stringValue, .int(Int64(value))) }
        mutating func encode(_ value: Int8, forKey key: Key) throws { self.object.set(key.stringValue, .int(Int64(value))) }
        mutating func encode(_ value: Int16, forKey key: Key) throws { self.object.set(key.stringValue, .int(Int64(value))) }
        mutating func encode(_ value: Int32, forKey key: Key) throws { self.object.set(key.stringValue, .int(Int64(value))) }
        mutating func encode(_ value: Int64, forKey key: Key) throws { self.object.set(key.stringValue, .int(value)) }
        mutating func encode(_ value: UInt, forKey key: Key) throws { self.object.set(key.stringValue, .uint(UInt64(value))) }
        mutating func encode(_ value: UInt8, forKey key: Key) throws { self.object.set(key.stringValue, .uint(UInt64(value))) }
        mutating func encode(_ value: UInt16, forKey key: Key) throws { self.object.set(key.stringValue, .uint(UInt64(value))) }
        mutating func encode(_ value: UInt32, forKey key: Key) throws { self.object.set(key.stringValue, .uint(UInt64(value))) }
        mutating func encode(_ value: UInt64, forKey key: Key) throws { self.object.set(key.stringValue, .uint(value)) }

        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            self.object.set(key.stringValue, try .encoding(value, path: self.codingPath + [key]))
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            let nested = JSONObject()
            self.object.set(key.stringValue, .object(nested))
            return KeyedEncodingContainer(KeyedContainer<NestedKey>(object: nested, codingPath: self.codingPath + [key]))
        }

        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            let nested = JSONArray()
            self.object.set(key.stringValue, .array(nested))
            return UnkeyedContainer(array: nested, codingPath: self.codingPath + [key])
        }

        mutating func superEncoder() -> any Encoder { self.superEncoder(named: JSONKey(stringValue: "super")) }

        mutating func superEncoder(forKey key: Key) -> any Encoder { self.superEncoder(named: key) }

        private func superEncoder(named key: any CodingKey) -> any Encoder {
            let encoder = JSONTreeEncoder(codingPath: self.codingPath + [key])
            self.object.set(key.stringValue, .deferred(encoder))
            return encoder
        }
    }

    struct UnkeyedContainer: UnkeyedEncodingContainer {
        let array: JSONArray
        let codingPath: [any CodingKey]
        var count: Int { self.array.values.count }

        private var nextPath: [any CodingKey] { self.codingPath + [JSONKey(index: self.count)] }

        mutating func encodeNil() throws { self.array.values.append(.null) }
        mutating func encode(_ value: Bool) throws { self.array.values.append(.bool(value)) }
        mutating func encode(_ value: String) throws { self.array.values.append(.string(value)) }
        mutating func encode(_ value: Double) throws { self.array.values.append(try .double(value, path: self.nextPath)) }
        mutating func encode(_ value: Float) throws { self.array.values.append(try .float(value, path: self.nextPath)) }
        mutating func encode(_ value: Int) throws { self.array.values.append(.int(Int64(value))) }
        mutating func encode(_ value: Int8) throws { self.array.values.append(.int(Int64(value))) }
        mutating func encode(_ value: Int16) throws { self.array.values.append(.int(Int64(value))) }
        mutating func encode(_ value: Int32) throws { self.array.values.append(.int(Int64(value))) }
        mutating func encode(_ value: Int64) throws { self.array.values.append(.int(value)) }
        mutating func encode(_ value: UInt) throws { self.array.values.append(.uint(UInt64(value))) }
        mutating func encode(_ value: UInt8) throws { self.array.values.append(.uint(UInt64(value))) }
        mutating func encode(_ value: UInt16) throws { self.array.values.append(.uint(UInt64(value))) }
        mutating func encode(_ value: UInt32) throws { self.array.values.append(.uint(UInt64(value))) }
        mutating func encode(_ value: UInt64) throws { self.array.values.append(.uint(value)) }

        mutating func encode<T: Encodable>(_ value: T) throws {
            self.array.values.append(try .encoding(value, path: self.nextPath))
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            let nested = JSONObject()
            let path = self.nextPath
            self.array.values.append(.object(nested))
            return KeyedEncodingContainer(KeyedContainer<NestedKey>(object: nested, codingPath: path))
        }

        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            let nested = JSONArray()
            let path = self.nextPath
            self.array.values.append(.array(nested))
            return UnkeyedContainer(array: nested, codingPath: path)
        }

        mutating func superEncoder() -> any Encoder {
            let encoder = JSONTreeEncoder(codingPath: self.nextPath)
            self.array.values.append(.deferred(encoder))
            return encoder
        }
    }

    struct SingleValueContainer: SingleValueEncodingContainer {
        let encoder: JSONTreeEncoder
        var codingPath: [any CodingKey] { self.encoder.codingPath }

        private func set(_ node: JSONNode) { self.encoder.node = node }

        mutating func encodeNil() throws { self.set(.null) }
        mutating func encode(_ value: Bool) throws { self.set(.bool(value)) }
        mutating func encode(_ value: String) throws { self.set(.string(value)) }
        mutating func encode(_ value: Double) throws { self.set(try .double(value, path: self.codingPath)) }
        mutating func encode(_ value: Float) throws { self.set(try .float(value, path: self.codingPath)) }
        mutating func encode(_ value: Int) throws { self.set(.int(Int64(value))) }
        mutating func encode(_ value: Int8) throws { self.set(.int(Int64(value))) }
        mutating func encode(_ value: Int16) throws { self.set(.int(Int64(value))) }
        mutating func encode(_ value: Int32) throws { self.set(.int(Int64(value))) }
        mutating func encode(_ value: Int64) throws { self.set(.int(value)) }
        mutating func encode(_ value: UInt) throws { self.set(.uint(UInt64(value))) }
        mutating func encode(_ value: UInt8) throws { self.set(.uint(UInt64(value))) }
        mutating func encode(_ value: UInt16) throws { self.set(.uint(UInt64(value))) }
        mutating func encode(_ value: UInt32) throws { self.set(.uint(UInt64(value))) }
        mutating func encode(_ value: UInt64) throws { self.set(.uint(value)) }
        mutating func encode<T: Encodable>(_ value: T) throws { self.set(try .encoding(value, path: self.codingPath)) }
    }
}

/// An object being encoded: its members in the order they were first set.
final class JSONObject {
    var members: [(key: String, value: JSONNode)] = []
    /// Each key's member, once the object has many: finding a repeated key is then a hash, not a
    /// scan — a dictionary of n entries encodes in O(n), not O(n²).
    private var index: [String: Int]?

    func set(_ key: String, _ value: JSONNode) {
        let existing = if let index = self.index { index[key] } else { self.members.firstIndex { $0.key == key } }
        if let existing {
            self.members[existing].value = value
            return
        }
        self.index?[key] = self.members.count
        self.members.append((key, value))
        if self.index == nil && self.members.count > JSONText.indexedObjectSize {
            self.index = Dictionary(uniqueKeysWithValues: self.members.enumerated().map { ($0.element.key, $0.offset) })
        }
    }
}

/// An array being encoded.
final class JSONArray {
    var values: [JSONNode] = []
}

/// One encoded value.
enum JSONNode {
    case null
    case bool(Bool)
    case string(String)
    case int(Int64)
    case uint(UInt64)
    /// A finite number, written in its shortest form.
    case number(Double)
    case float(Float)
    /// A number written as it is (a `Decimal`'s digits).
    case rawNumber(String)
    case object(JSONObject)
    case array(JSONArray)
    /// What a super encoder receives, read when the tree is written.
    case deferred(JSONTreeEncoder)

    /// The node of any `Encodable`: Foundation's special cases, then the value's own `encode(to:)`.
    static func encoding<Value: Encodable>(_ value: Value, path: [any CodingKey]) throws -> JSONNode {
        // Type comparisons first: a cast is tried only when it will succeed.
        if Value.self == String.self, let string = value as? String { return .string(string) }
        if Value.self == Data.self, let data = value as? Data { return .string(data.base64EncodedString()) }
        if Value.self == URL.self, let url = value as? URL { return .string(url.absoluteString) }
        if Value.self == Decimal.self, let decimal = value as? Decimal { return .rawNumber(decimal.description) }
        let encoder = JSONTreeEncoder(codingPath: path)
        try value.encode(to: encoder)
        return encoder.node ?? .object(JSONObject())
    }

    static func double(_ value: Double, path: [any CodingKey]) throws -> JSONNode {
        guard value.isFinite else { throw Self.nonFinite(value, path: path) }
        return .number(value)
    }

    static func float(_ value: Float, path: [any CodingKey]) throws -> JSONNode {
        guard value.isFinite else { throw Self.nonFinite(value, path: path) }
        return .float(value)
    }

    private static func nonFinite(_ value: Any, path: [any CodingKey]) -> EncodingError {
        .invalidValue(value, .init(codingPath: path, debugDescription: "Unable to encode \(value) directly in JSON."))
    }

    /// A finite number as Foundation writes it: integral values below `exactBelow` (where the
    /// type still holds every integer) without a fraction, `-0` kept, others in their shortest form.
    private static func write<Number: BinaryFloatingPoint & CustomStringConvertible>(
        _ value: Number,
        exactBelow limit: Number,
        to output: inout ByteBuffer
    ) {
        if value == 0, value.sign == .minus {
            output.writeStaticString("-0")
        } else if value.rounded(.towardZero) == value, abs(value) < limit {
            output.writeString(String(Int64(value)))
        } else {
            output.writeString(value.description)
        }
    }

    func write(to output: inout ByteBuffer) {
        switch self {
        case .null: output.writeStaticString("null")
        case .bool(let value): output.writeStaticString(value ? "true" : "false")
        case .string(let value): output.writeJSONString(value)
        case .int(let value): output.writeString(String(value))
        case .uint(let value): output.writeString(String(value))
        case .number(let value): Self.write(value, exactBelow: 1e15, to: &output)
        case .float(let value): Self.write(value, exactBelow: 1e7, to: &output)
        case .rawNumber(let digits):
            output.writeString(digits)
        case .object(let object):
            output.writeInteger(UInt8(ascii: "{"))
            for index in object.members.indices {
                if index > 0 { output.writeInteger(UInt8(ascii: ",")) }
                output.writeJSONString(object.members[index].key)
                output.writeInteger(UInt8(ascii: ":"))
                object.members[index].value.write(to: &output)
            }
            output.writeInteger(UInt8(ascii: "}"))
        case .array(let array):
            output.writeInteger(UInt8(ascii: "["))
            for index in array.values.indices {
                if index > 0 { output.writeInteger(UInt8(ascii: ",")) }
                array.values[index].write(to: &output)
            }
            output.writeInteger(UInt8(ascii: "]"))
        case .deferred(let encoder):
            (encoder.node ?? .object(JSONObject())).write(to: &output)
        }
    }
}
