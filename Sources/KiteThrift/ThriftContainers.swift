import Foundation

/// Swift types and the Thrift types they travel as: `Bool` bool, `Int8`/`UInt8` byte, `Int16`
/// i16, `Int32` and ``ThriftEnum``s i32, `Int`/`Int64` i64, `Double` double, `String` string,
/// `Data` binary, arrays list, sets set, dictionaries map, an optional its wrapped type's,
/// anything else `Codable` a struct.
enum ThriftValueType {
    static func of(_ type: Any.Type) -> ThriftType {
        switch type {
        case is Bool.Type: .bool
        case is Int8.Type, is UInt8.Type: .byte
        case is Int16.Type: .i16
        case is Int32.Type: .i32
        case is Int.Type, is Int64.Type: .i64
        case is Double.Type, is Float.Type: .double
        case is String.Type, is Data.Type: .string
        case is any ThriftEnum.Type: .i32
        case let list as any ThriftSequenceType.Type: list.thriftContainerType
        case is any ThriftMapType.Type: .map
        case let optional as any ThriftOptionalType.Type: optional.wrappedThriftType
        default: .struct
        }
    }
}

/// A Thrift `enum`: a Swift enum with `Int32` raw values, which travels as an i32.
///
/// ```swift
/// enum Color: Int32, ThriftEnum { case red = 1, green = 2 }
/// ```
/// Reading a value the enum does not have fails (`DecodingError.dataCorrupted`).
public protocol ThriftEnum: RawRepresentable, Codable, Sendable where RawValue == Int32 {}

/// Arrays and sets: lists and sets.
protocol ThriftSequenceType {
    static var thriftContainerType: ThriftType { get }
    static var thriftElementType: ThriftType { get }
}

/// Dictionaries: maps.
protocol ThriftMapType {
    static var thriftKeyType: ThriftType { get }
    static var thriftValueType: ThriftType { get }
}

/// Optionals: their wrapped type's.
protocol ThriftOptionalType {
    static var wrappedThriftType: ThriftType { get }
}

extension Array: ThriftSequenceType {
    static var thriftContainerType: ThriftType { .list }
    static var thriftElementType: ThriftType { ThriftValueType.of(Element.self) }
}

extension Set: ThriftSequenceType {
    static var thriftContainerType: ThriftType { .set }
    static var thriftElementType: ThriftType { ThriftValueType.of(Element.self) }
}

extension Dictionary: ThriftMapType {
    static var thriftKeyType: ThriftType { ThriftValueType.of(Key.self) }
    static var thriftValueType: ThriftType { ThriftValueType.of(Value.self) }
}

extension Optional: ThriftOptionalType {
    static var wrappedThriftType: ThriftType { ThriftValueType.of(Wrapped.self) }
}

// MARK: Writing and reading the containers' elements

/// A list or set whose elements can be written.
protocol ThriftSequenceEncodable {
    func thriftWrite(to box: ThriftWriterBox) throws
}

/// A list or set that can be read.
protocol ThriftSequenceDecodable {
    static func thriftRead(from box: ThriftReaderBox, wireType: ThriftType) throws -> Self
}

/// A map whose entries can be written.
protocol ThriftMapEncodable {
    func thriftWrite(to box: ThriftWriterBox) throws
}

/// A map that can be read.
protocol ThriftMapDecodable {
    static func thriftRead(from box: ThriftReaderBox) throws -> Self
}

/// An optional, to see through when a value is read.
protocol ThriftOptionalDecodable {
    static func thriftRead(from box: ThriftReaderBox, wireType: ThriftType, boolValue: Bool?) throws -> Self
}

extension Array: ThriftSequenceEncodable where Element: Encodable {
    func thriftWrite(to box: ThriftWriterBox) throws {
        box.writer.writeListBegin(ThriftValueType.of(Element.self), count: self.count)
        for element in self { try ThriftValueCoding.write(element, to: box) }
    }
}

extension Set: ThriftSequenceEncodable where Element: Encodable {
    func thriftWrite(to box: ThriftWriterBox) throws {
        box.writer.writeListBegin(ThriftValueType.of(Element.self), count: self.count)
        for element in self { try ThriftValueCoding.write(element, to: box) }
    }
}

extension Array: ThriftSequenceDecodable where Element: Decodable {
    static func thriftRead(from box: ThriftReaderBox, wireType: ThriftType) throws -> [Element] {
        let (elementType, count) = try box.reader.readListBegin()
        var elements: [Element] = []
        elements.reserveCapacity(count)  // bounded: the reader checked `count` against the bytes left
        for _ in 0..<count { elements.append(try ThriftValueCoding.read(Element.self, wireType: elementType, from: box)) }
        box.reader.readContainerEnd()
        return elements
    }
}

extension Set: ThriftSequenceDecodable where Element: Decodable {
    static func thriftRead(from box: ThriftReaderBox, wireType: ThriftType) throws -> Set<Element> {
        Set(try [Element].thriftRead(from: box, wireType: wireType))
    }
}

extension Dictionary: ThriftMapEncodable where Key: Encodable, Value: Encodable {
    func thriftWrite(to box: ThriftWriterBox) throws {
        box.writer.writeMapBegin(key: ThriftValueType.of(Key.self), value: ThriftValueType.of(Value.self), count: self.count)
        for (key, value) in self {
            try ThriftValueCoding.write(key, to: box)
            try ThriftValueCoding.write(value, to: box)
        }
    }
}

extension Dictionary: ThriftMapDecodable where Key: Decodable, Value: Decodable {
    static func thriftRead(from box: ThriftReaderBox) throws -> [Key: Value] {
        let (keyType, valueType, count) = try box.reader.readMapBegin()
        var map: [Key: Value] = [:]
        map.reserveCapacity(count)
        for _ in 0..<count {
            let key = try ThriftValueCoding.read(Key.self, wireType: keyType, from: box)
            map[key] = try ThriftValueCoding.read(Value.self, wireType: valueType, from: box)
        }
        box.reader.readContainerEnd()
        return map
    }
}

extension Optional: ThriftOptionalDecodable where Wrapped: Decodable {
    static func thriftRead(from box: ThriftReaderBox, wireType: ThriftType, boolValue: Bool?) throws -> Wrapped? {
        try ThriftValueCoding.read(Wrapped.self, wireType: wireType, from: box, boolValue: boolValue)
    }
}
