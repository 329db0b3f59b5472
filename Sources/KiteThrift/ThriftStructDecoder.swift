/// Decodes a Thrift struct into a `Codable` type: fields are matched to coding keys by id
/// (`intValue`), in whatever order they arrive; unknown fields are skipped; a missing field is a
/// `DecodingError.keyNotFound` unless the property is optional.
struct ThriftStructDecoder: Decoder {
    let box: ThriftReaderBox
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    /// Where one field's value starts.
    struct Field {
        let type: ThriftType
        let reader: ThriftReader
        /// A compact bool field's value, which came in its header.
        let boolValue: Bool?
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        // Read the whole struct first: a decoder asks for fields in its own order.
        var fields: [Int16: Field] = [:]
        try self.box.reader.readStructBegin()
        while let (fieldType, id) = try self.box.reader.readFieldBegin() {
            var boolValue: Bool?
            if fieldType == .bool, self.box.reader.protocolKind == .compact { boolValue = try self.box.reader.readBool() }
            fields[id] = Field(type: fieldType, reader: self.box.reader, boolValue: boolValue)
            if boolValue == nil { try self.box.reader.skip(fieldType) }
        }
        self.box.reader.readStructEnd()
        return KeyedDecodingContainer(FieldContainer<Key>(fields: fields, codingPath: self.codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw DecodingError.typeMismatch([Any].self, .init(codingPath: self.codingPath, debugDescription: "a Thrift struct is decoded with a keyed container (coding keys with field ids)"))
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        throw DecodingError.typeMismatch(Any.self, .init(codingPath: self.codingPath, debugDescription: "a Thrift struct is decoded with a keyed container (coding keys with field ids)"))
    }

    struct FieldContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let fields: [Int16: Field]
        var codingPath: [any CodingKey]

        var allKeys: [Key] {
            self.fields.keys.compactMap { Key(intValue: Int($0)) }
        }

        private func field(_ key: Key) -> Field? {
            guard let value = key.intValue, let id = Int16(exactly: value) else { return nil }
            return self.fields[id]
        }

        func contains(_ key: Key) -> Bool {
            self.field(key) != nil
        }

        func decodeNil(forKey key: Key) throws -> Bool {
            self.field(key) == nil
        }

        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            guard key.intValue != nil else {
                throw DecodingError.keyNotFound(key, .init(codingPath: self.codingPath, debugDescription: "coding key '\(key.stringValue)' has no Thrift field id: declare `enum CodingKeys: Int, CodingKey`"))
            }
            guard let field = self.field(key) else {
                throw DecodingError.keyNotFound(key, .init(codingPath: self.codingPath, debugDescription: "field \(key.intValue ?? 0) ('\(key.stringValue)') is missing"))
            }
            let box = ThriftReaderBox(field.reader)
            do {
                return try ThriftValueCoding.read(T.self, wireType: field.type, from: box, boolValue: field.boolValue)
            } catch let error as DecodingError {
                throw error.prefixingPath(self.codingPath + [key])
            }
        }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            guard let field = self.field(key), field.type == .struct else {
                throw DecodingError.keyNotFound(key, .init(codingPath: self.codingPath, debugDescription: "no struct field for '\(key.stringValue)'"))
            }
            return try ThriftStructDecoder(box: ThriftReaderBox(field.reader), codingPath: self.codingPath + [key]).container(keyedBy: type)
        }

        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            throw DecodingError.typeMismatch([Any].self, .init(codingPath: self.codingPath + [key], debugDescription: "nested unkeyed containers are not supported; use an array"))
        }

        func superDecoder() throws -> any Decoder {
            throw DecodingError.typeMismatch(Any.self, .init(codingPath: self.codingPath, debugDescription: "superDecoder is not supported in Thrift structs"))
        }

        func superDecoder(forKey key: Key) throws -> any Decoder {
            try self.superDecoder()
        }
    }
}

extension DecodingError {
    /// The error with `path` before the path it had (which the value decoder, not knowing where
    /// it was, left empty).
    func prefixingPath(_ path: [any CodingKey]) -> DecodingError {
        switch self {
        case .typeMismatch(let type, let context):
            .typeMismatch(type, .init(codingPath: path + context.codingPath, debugDescription: context.debugDescription, underlyingError: context.underlyingError))
        case .valueNotFound(let type, let context):
            .valueNotFound(type, .init(codingPath: path + context.codingPath, debugDescription: context.debugDescription, underlyingError: context.underlyingError))
        case .keyNotFound(let key, let context):
            .keyNotFound(key, .init(codingPath: path + context.codingPath, debugDescription: context.debugDescription, underlyingError: context.underlyingError))
        case .dataCorrupted(let context):
            .dataCorrupted(.init(codingPath: path + context.codingPath, debugDescription: context.debugDescription, underlyingError: context.underlyingError))
        @unknown default:
            self
        }
    }
}
