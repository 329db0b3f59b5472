/// Encodes a `Codable` struct as a Thrift struct: each coding key's `intValue` is the field's id
/// (declare `enum CodingKeys: Int, CodingKey { case a = 1, b = 2 }`), the field's type comes from
/// the value's Swift type (``ThriftValueType``), and an absent optional is an absent field.
struct ThriftStructEncoder: Encoder {
    let box: ThriftWriterBox
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(FieldContainer<Key>(box: self.box, codingPath: self.codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        self.box.unsupported = "a Thrift struct is encoded with a keyed container (coding keys with field ids)"
        return UnsupportedUnkeyedContainer(codingPath: self.codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        self.box.unsupported = "a Thrift struct is encoded with a keyed container (coding keys with field ids)"
        return UnsupportedSingleValueContainer(codingPath: self.codingPath)
    }

    /// Writes one field per key.
    struct FieldContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let box: ThriftWriterBox
        var codingPath: [any CodingKey]

        private func fieldID(_ key: Key) throws -> Int16 {
            guard let value = key.intValue, let id = Int16(exactly: value) else {
                throw EncodingError.invalidValue(
                    key.stringValue,
                    .init(codingPath: self.codingPath + [key], debugDescription: "coding key '\(key.stringValue)' has no Thrift field id: declare `enum CodingKeys: Int, CodingKey`")
                )
            }
            return id
        }

        mutating func encodeNil(forKey key: Key) throws {}

        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            try self.field(value, key)
        }

        private func field<T: Encodable>(_ value: T, _ key: Key) throws {
            if let optional = value as? any ThriftOptionalEncodable, optional.thriftWrapped == nil { return }
            self.box.writer.writeFieldBegin(ThriftValueType.of(T.self), id: try self.fieldID(key))
            try ThriftValueCoding.write(value, to: self.box)
        }

        mutating func encode(_ value: Bool, forKey key: Key) throws { try self.field(value, key) }
        mutating func encode(_ value: String, forKey key: Key) throws { try self.field(value, key) }
        mutating func encode(_ value: Double, forKey key: Key) throws { try self.field(value, key) }
        mutating func encode(_ value: Float, forKey key: Key) throws { try self.field(value, key) }
        mutating func encode(_ value: Int, forKey key: Key) throws { try self.field(value, key) }
        mutating func encode(_ value: Int8, forKey key: Key) throws { try self.field(value, key) }
        mutating func encode(_ value: Int16, forKey key: Key) throws { try self.field(value, key) }
        mutating func encode(_ value: Int32, forKey key: Key) throws { try self.field(value, key) }
        mutating func encode(_ value: Int64, forKey key: Key) throws { try self.field(value, key) }
        mutating func encode(_ value: UInt8, forKey key: Key) throws { try self.field(value, key) }
        mutating func encode(_ value: UInt, forKey key: Key) throws { throw self.unsigned(key) }
        mutating func encode(_ value: UInt16, forKey key: Key) throws { throw self.unsigned(key) }
        mutating func encode(_ value: UInt32, forKey key: Key) throws { throw self.unsigned(key) }
        mutating func encode(_ value: UInt64, forKey key: Key) throws { throw self.unsigned(key) }

        private func unsigned(_ key: Key) -> EncodingError {
            .invalidValue(key.stringValue, .init(codingPath: self.codingPath + [key], debugDescription: "Thrift has no unsigned integers (UInt8 excepted, as a byte)"))
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            self.box.unsupported = "nested containers are not supported in Thrift structs; use a nested struct"
            return KeyedEncodingContainer(FieldContainer<NestedKey>(box: ThriftWriterBox(ThriftWriter(protocol: .binary)), codingPath: self.codingPath))
        }

        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            self.box.unsupported = "nested containers are not supported in Thrift structs; use an array"
            return UnsupportedUnkeyedContainer(codingPath: self.codingPath)
        }

        mutating func superEncoder() -> any Encoder {
            self.box.unsupported = "superEncoder is not supported in Thrift structs"
            return ThriftStructEncoder(box: ThriftWriterBox(ThriftWriter(protocol: .binary)))
        }

        mutating func superEncoder(forKey key: Key) -> any Encoder {
            self.superEncoder()
        }
    }

    /// Swallows what an unsupported unkeyed container is given; the encoding then fails.
    struct UnsupportedUnkeyedContainer: UnkeyedEncodingContainer {
        var codingPath: [any CodingKey]
        var count = 0
        mutating func encodeNil() throws {}
        mutating func encode<T: Encodable>(_ value: T) throws {}
        mutating func encode(_ value: Bool) throws {}
        mutating func encode(_ value: String) throws {}
        mutating func encode(_ value: Double) throws {}
        mutating func encode(_ value: Float) throws {}
        mutating func encode(_ value: Int) throws {}
        mutating func encode(_ value: Int8) throws {}
        mutating func encode(_ value: Int16) throws {}
        mutating func encode(_ value: Int32) throws {}
        mutating func encode(_ value: Int64) throws {}
        mutating func encode(_ value: UInt) throws {}
        mutating func encode(_ value: UInt8) throws {}
        mutating func encode(_ value: UInt16) throws {}
        mutating func encode(_ value: UInt32) throws {}
        mutating func encode(_ value: UInt64) throws {}
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            KeyedEncodingContainer(FieldContainer<NestedKey>(box: ThriftWriterBox(ThriftWriter(protocol: .binary)), codingPath: self.codingPath))
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { self }
        mutating func superEncoder() -> any Encoder { ThriftStructEncoder(box: ThriftWriterBox(ThriftWriter(protocol: .binary))) }
    }

    /// Swallows what an unsupported single-value container is given; the encoding then fails.
    struct UnsupportedSingleValueContainer: SingleValueEncodingContainer {
        var codingPath: [any CodingKey]
        mutating func encodeNil() throws {}
        mutating func encode<T: Encodable>(_ value: T) throws {}
        mutating func encode(_ value: Bool) throws {}
        mutating func encode(_ value: String) throws {}
        mutating func encode(_ value: Double) throws {}
        mutating func encode(_ value: Float) throws {}
        mutating func encode(_ value: Int) throws {}
        mutating func encode(_ value: Int8) throws {}
        mutating func encode(_ value: Int16) throws {}
        mutating func encode(_ value: Int32) throws {}
        mutating func encode(_ value: Int64) throws {}
        mutating func encode(_ value: UInt) throws {}
        mutating func encode(_ value: UInt8) throws {}
        mutating func encode(_ value: UInt16) throws {}
        mutating func encode(_ value: UInt32) throws {}
        mutating func encode(_ value: UInt64) throws {}
    }
}
