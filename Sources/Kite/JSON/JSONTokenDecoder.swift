import Foundation

/// Kite's JSON `Decoder`: reads `Decodable` values straight from a body's bytes through the
/// tokens ``JSONScanner`` listed, without building a tree of values.
///
/// It behaves as Foundation's `JSONDecoder` with default options: the same `DecodingError`s
/// (so ``JSONBody`` words failures as before), numbers into integer types only when they are
/// exactly representable, `Data` from Base64 strings, `URL` from strings, `Date` as seconds since
/// 2001 (its own `Codable`), duplicate keys resolved to the last one.
final class JSONTokenDecoder: Decoder {
    let bytes: UnsafeRawBufferPointer
    let tokens: [JSONToken]
    /// The token of the value this decoder reads.
    let index: Int
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(bytes: UnsafeRawBufferPointer, tokens: [JSONToken], index: Int, codingPath: [any CodingKey]) {
        self.bytes = bytes
        self.tokens = tokens
        self.index = index
        self.codingPath = codingPath
    }

    /// Decodes a `Value` from the JSON document in `bytes`.
    static func decode<Value: Decodable>(_ type: Value.Type, from bytes: UnsafeRawBufferPointer) throws -> Value {
        let tokens: [JSONToken]
        do {
            tokens = try JSONScanner.scan(bytes)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "The given data was not valid JSON: \(error)."))
        }
        return try JSONTokenDecoder(bytes: bytes, tokens: tokens, index: 0, codingPath: []).decodeValue(type, at: 0, path: [])
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        try KeyedDecodingContainer(KeyedContainer(decoder: self, object: self.objectToken(self.index, path: self.codingPath), codingPath: self.codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try UnkeyedContainer(decoder: self, array: self.arrayToken(self.index, path: self.codingPath), codingPath: self.codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleValueContainer(decoder: self)
    }

    // MARK: Reading tokens

    func objectToken(_ index: Int, path: @autoclosure () -> [any CodingKey]) throws -> Int {
        guard self.tokens[index].kind == .object else { throw self.mismatch([String: Any].self, at: index, path: path()) }
        return index
    }

    func arrayToken(_ index: Int, path: @autoclosure () -> [any CodingKey]) throws -> Int {
        guard self.tokens[index].kind == .array else { throw self.mismatch([Any].self, at: index, path: path()) }
        return index
    }

    func isNull(_ index: Int) -> Bool { self.tokens[index].kind == .null }

    func bytes(of token: JSONToken) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self.bytes[token.start..<(token.start + token.count)])
    }

    /// The string a string token holds.
    func string(of token: JSONToken) -> String {
        token.kind == .string ? String(decoding: self.bytes(of: token), as: UTF8.self) : JSONText.unescape(self.bytes(of: token))
    }

    func mismatch(_ type: Any.Type, at index: Int, path: @autoclosure () -> [any CodingKey]) -> DecodingError {
        let kind = self.tokens[index].kind
        if kind == .null {
            return .valueNotFound(type, .init(codingPath: path(), debugDescription: "Expected \(type) value but found null instead."))
        }
        let found: String
        switch kind {
        case .null: found = "null"
        case .true, .false: found = "bool"
        case .number: found = "number"
        case .string, .escapedString: found = "string"
        case .array: found = "array"
        case .object: found = "dictionary"
        }
        return .typeMismatch(type, .init(codingPath: path(), debugDescription: "Expected to decode \(type) but found \(found) instead."))
    }

    func decodeBool(at index: Int, path: @autoclosure () -> [any CodingKey]) throws -> Bool {
        switch self.tokens[index].kind {
        case .true: return true
        case .false: return false
        default: throw self.mismatch(Bool.self, at: index, path: path())
        }
    }

    func decodeString(at index: Int, path: @autoclosure () -> [any CodingKey]) throws -> String {
        let token = self.tokens[index]
        guard token.kind == .string || token.kind == .escapedString else { throw self.mismatch(String.self, at: index, path: path()) }
        return self.string(of: token)
    }

    func decodeInteger<Integer: FixedWidthInteger>(_ type: Integer.Type, at index: Int, path: @autoclosure () -> [any CodingKey]) throws -> Integer {
        let token = self.tokens[index]
        guard token.kind == .number else { throw self.mismatch(type, at: index, path: path()) }
        let text = self.bytes(of: token)
        if let value = Self.parseInteger(type, text) { return value }
        // `1e3` or `2.0`: accepted when the value is exactly an integer of the type.
        if let double = Double(String(decoding: text, as: UTF8.self)), let value = Integer(exactly: double) { return value }
        throw DecodingError.dataCorrupted(
            .init(codingPath: path(), debugDescription: "Parsed JSON number <\(String(decoding: text, as: UTF8.self))> does not fit in \(type).")
        )
    }

    /// Plain decimal integer syntax, with overflow checked; `nil` for anything else.
    private static func parseInteger<Integer: FixedWidthInteger>(_ type: Integer.Type, _ text: UnsafeRawBufferPointer) -> Integer? {
        var index = 0
        let negative = text.first == UInt8(ascii: "-")
        if negative {
            guard Integer.isSigned else { return text.count == 2 && text[1] == UInt8(ascii: "0") ? 0 : nil }
            index = 1
        }
        var value: Integer = 0
        while index < text.count {
            let digit = text[index] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = negative
                ? shifted.subtractingReportingOverflow(Integer(digit))
                : shifted.addingReportingOverflow(Integer(digit))
            guard !overflow1, !overflow2 else { return nil }
            value = next
            index += 1
        }
        return value
    }

    func decodeFloatingPoint<Float: BinaryFloatingPoint & LosslessStringConvertible>(
        _ type: Float.Type,
        at index: Int,
        path: @autoclosure () -> [any CodingKey]
    ) throws -> Float {
        let token = self.tokens[index]
        guard token.kind == .number else { throw self.mismatch(type, at: index, path: path()) }
        let text = String(decoding: self.bytes(of: token), as: UTF8.self)
        guard let value = Float(text), value.isFinite else {
            throw DecodingError.dataCorrupted(.init(codingPath: path(), debugDescription: "Parsed JSON number <\(text)> does not fit in \(type)."))
        }
        return value
    }

    /// Decodes any `Decodable` at a token: the types Foundation's decoder treats specially first,
    /// then the type's own `init(from:)`.
    func decodeValue<Value: Decodable>(_ type: Value.Type, at index: Int, path: @autoclosure () -> [any CodingKey]) throws -> Value {
        // The common element types without a decoder of their own (the casts cannot fail).
        if type == String.self, let value = try self.decodeString(at: index, path: path()) as? Value { return value }
        if type == Int.self, let value = try self.decodeInteger(Int.self, at: index, path: path()) as? Value { return value }
        if type == Data.self, let value = try self.decodeData(at: index, path: path()) as? Value { return value }
        if type == URL.self, let value = try self.decodeURL(at: index, path: path()) as? Value { return value }
        if type == Decimal.self, let value = try self.decodeDecimal(at: index, path: path()) as? Value { return value }
        let decoder = index == self.index
            ? self
            : JSONTokenDecoder(bytes: self.bytes, tokens: self.tokens, index: index, codingPath: path())
        return try Value(from: decoder)
    }

    /// `Data` from a Base64 string, as Foundation's default `dataDecodingStrategy`.
    private func decodeData(at index: Int, path: @autoclosure () -> [any CodingKey]) throws -> Data {
        guard let data = Data(base64Encoded: try self.decodeString(at: index, path: path())) else {
            throw DecodingError.dataCorrupted(.init(codingPath: path(), debugDescription: "Encountered Data is not valid Base64."))
        }
        return data
    }

    private func decodeURL(at index: Int, path: @autoclosure () -> [any CodingKey]) throws -> URL {
        guard let url = URL(string: try self.decodeString(at: index, path: path())) else {
            throw DecodingError.dataCorrupted(.init(codingPath: path(), debugDescription: "Invalid URL string."))
        }
        return url
    }

    private func decodeDecimal(at index: Int, path: @autoclosure () -> [any CodingKey]) throws -> Decimal {
        let token = self.tokens[index]
        guard token.kind == .number else { throw self.mismatch(Decimal.self, at: index, path: path()) }
        guard let decimal = Decimal(string: String(decoding: self.bytes(of: token), as: UTF8.self)) else {
            throw DecodingError.dataCorrupted(.init(codingPath: path(), debugDescription: "Invalid number."))
        }
        return decimal
    }

    // MARK: Containers

    struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let decoder: JSONTokenDecoder
        let object: Int
        let codingPath: [any CodingKey]
        /// For objects with many members, each name's value token (the last one of a repeated
        /// name): a lookup is then a hash, not a scan — a dictionary of n entries decodes in
        /// O(n), not O(n²). Small objects, the usual request, are scanned.
        private let index: [String: Int]?

        init(decoder: JSONTokenDecoder, object: Int, codingPath: [any CodingKey]) {
            self.decoder = decoder
            self.object = object
            self.codingPath = codingPath
            let count = decoder.tokens[object].count
            guard count > JSONText.indexedObjectSize else {
                self.index = nil
                return
            }
            var index = [String: Int](minimumCapacity: count)
            var member = object + 1
            for _ in 0..<count {
                index[decoder.string(of: decoder.tokens[member])] = member + 1
                member = decoder.tokens[member + 1].next
            }
            self.index = index
        }

        var allKeys: [Key] {
            var keys: [Key] = []
            var member = self.object + 1
            for _ in 0..<self.decoder.tokens[self.object].count {
                if let key = Key(stringValue: self.decoder.string(of: self.decoder.tokens[member])) { keys.append(key) }
                member = self.decoder.tokens[member + 1].next
            }
            return keys
        }

        /// The token of the value named `name` (the last one, if the name repeats).
        private func valueIndex(named name: String) -> Int? {
            if let index = self.index { return index[name] }
            var name = name
            return name.withUTF8 { name in
                var found: Int?
                var member = self.object + 1
                for _ in 0..<self.decoder.tokens[self.object].count {
                    let keyToken = self.decoder.tokens[member]
                    let matches = keyToken.kind == .string
                        ? keyToken.count == name.count && self.decoder.bytes(of: keyToken).elementsEqual(name)
                        : self.decoder.string(of: keyToken).utf8.elementsEqual(name)
                    if matches { found = member + 1 }
                    member = self.decoder.tokens[member + 1].next
                }
                return found
            }
        }

        private func valueIndex(_ key: Key) -> Int? { self.valueIndex(named: key.stringValue) }

        private func require(_ key: Key) throws -> Int {
            guard let index = self.valueIndex(key) else {
                throw DecodingError.keyNotFound(
                    key,
                    .init(codingPath: self.codingPath, debugDescription: "No value associated with key \(key.stringValue).")
                )
            }
            return index
        }

        func contains(_ key: Key) -> Bool { self.valueIndex(key) != nil }

        func decodeNil(forKey key: Key) throws -> Bool { self.decoder.isNull(try self.require(key)) }

        func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
            try self.decoder.decodeBool(at: try self.require(key), path: self.codingPath + [key])
        }

        func decode(_ type: String.Type, forKey key: Key) throws -> String {
            try self.decoder.decodeString(at: try self.require(key), path: self.codingPath + [key])
        }

        func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
            try self.decoder.decodeFloatingPoint(type, at: try self.require(key), path: self.codingPath + [key])
        }

        func decode(_ type: Float.Type, forKey key: Key) throws -> Float {
            try self.decoder.decodeFloatingPoint(type, at: try self.require(key), path: self.codingPath + [key])
        }

        func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try self.integer(type, key) }
        func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try self.integer(type, key) }
        func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try self.integer(type, key) }
        func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try self.integer(type, key) }
        func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try self.integer(type, key) }
        func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try self.integer(type, key) }
        func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try self.integer(type, key) }
        func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try self.integer(type, key) }
        func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try self.integer(type, key) }
        func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try self.integer(type, key) }

        private func integer<Integer: FixedWidthInteger>(_ type: Integer.Type, _ key: Key) throws -> Integer {
            try self.decoder.decodeInteger(type, at: try self.require(key), path: self.codingPath + [key])
        }

        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            try self.decoder.decodeValue(type, at: try self.require(key), path: self.codingPath + [key])
        }

        func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
            guard let index = self.valueIndex(key), !self.decoder.isNull(index) else { return nil }
            return try self.decoder.decodeString(at: index, path: self.codingPath + [key])
        }

        func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
            guard let index = self.valueIndex(key), !self.decoder.isNull(index) else { return nil }
            return try self.decoder.decodeValue(type, at: index, path: self.codingPath + [key])
        }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            let path = self.codingPath + [key]
            let object = try self.decoder.objectToken(try self.require(key), path: path)
            return KeyedDecodingContainer(KeyedContainer<NestedKey>(decoder: self.decoder, object: object, codingPath: path))
        }

        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            let path = self.codingPath + [key]
            return UnkeyedContainer(decoder: self.decoder, array: try self.decoder.arrayToken(try self.require(key), path: path), codingPath: path)
        }

        func superDecoder() throws -> any Decoder {
            try self.superDecoder(named: JSONKey(stringValue: "super"))
        }

        func superDecoder(forKey key: Key) throws -> any Decoder {
            try self.superDecoder(named: key)
        }

        /// A decoder over the value named `key`; a missing one is `keyNotFound`.
        private func superDecoder(named key: any CodingKey) throws -> any Decoder {
            guard let index = self.valueIndex(named: key.stringValue) else {
                throw DecodingError.keyNotFound(
                    key,
                    .init(codingPath: self.codingPath, debugDescription: "No value associated with key \(key.stringValue).")
                )
            }
            return JSONTokenDecoder(bytes: self.decoder.bytes, tokens: self.decoder.tokens, index: index, codingPath: self.codingPath + [key])
        }
    }

    struct UnkeyedContainer: UnkeyedDecodingContainer {
        let decoder: JSONTokenDecoder
        let array: Int
        let codingPath: [any CodingKey]
        private(set) var currentIndex = 0
        private var token: Int

        init(decoder: JSONTokenDecoder, array: Int, codingPath: [any CodingKey]) {
            self.decoder = decoder
            self.array = array
            self.codingPath = codingPath
            self.token = array + 1
        }

        var count: Int? { self.decoder.tokens[self.array].count }
        var isAtEnd: Bool { self.currentIndex >= self.decoder.tokens[self.array].count }

        private var path: [any CodingKey] { self.path(at: self.currentIndex) }

        /// The coding path of the element at `position` (made only when an error or a nested
        /// decoder needs it).
        private func path(at position: Int) -> [any CodingKey] { self.codingPath + [JSONKey(index: position)] }

        /// The current element's token and position, and moves past it.
        private mutating func next(_ type: Any.Type) throws -> (index: Int, position: Int) {
            guard !self.isAtEnd else {
                throw DecodingError.valueNotFound(type, .init(codingPath: self.path, debugDescription: "Unkeyed container is at end."))
            }
            let element = (self.token, self.currentIndex)
            self.token = self.decoder.tokens[self.token].next
            self.currentIndex += 1
            return element
        }

        mutating func decodeNil() throws -> Bool {
            guard !self.isAtEnd else {
                throw DecodingError.valueNotFound(Any?.self, .init(codingPath: self.path, debugDescription: "Unkeyed container is at end."))
            }
            guard self.decoder.isNull(self.token) else { return false }
            _ = try self.next(Any?.self)
            return true
        }

        mutating func decode(_ type: Bool.Type) throws -> Bool {
            let (index, position) = try self.next(type)
            return try self.decoder.decodeBool(at: index, path: self.path(at: position))
        }

        mutating func decode(_ type: String.Type) throws -> String {
            let (index, position) = try self.next(type)
            return try self.decoder.decodeString(at: index, path: self.path(at: position))
        }

        mutating func decode(_ type: Double.Type) throws -> Double {
            let (index, position) = try self.next(type)
            return try self.decoder.decodeFloatingPoint(type, at: index, path: self.path(at: position))
        }

        mutating func decode(_ type: Float.Type) throws -> Float {
            let (index, position) = try self.next(type)
            return try self.decoder.decodeFloatingPoint(type, at: index, path: self.path(at: position))
        }

        mutating func decode(_ type: Int.Type) throws -> Int { try self.integer(type) }
        mutating func decode(_ type: Int8.Type) throws -> Int8 { try self.integer(type) }
        mutating func decode(_ type: Int16.Type) throws -> Int16 { try self.integer(type) }
        mutating func decode(_ type: Int32.Type) throws -> Int32 { try self.integer(type) }
        mutating func decode(_ type: Int64.Type) throws -> Int64 { try self.integer(type) }
        mutating func decode(_ type: UInt.Type) throws -> UInt { try self.integer(type) }
        mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try self.integer(type) }
        mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try self.integer(type) }
        mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try self.integer(type) }
        mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try self.integer(type) }

        private mutating func integer<Integer: FixedWidthInteger>(_ type: Integer.Type) throws -> Integer {
            let (index, position) = try self.next(type)
            return try self.decoder.decodeInteger(type, at: index, path: self.path(at: position))
        }

        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
            let (index, position) = try self.next(type)
            return try self.decoder.decodeValue(type, at: index, path: self.path(at: position))
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
            let (index, position) = try self.next([String: Any].self)
            return KeyedDecodingContainer(
                KeyedContainer<NestedKey>(decoder: self.decoder, object: try self.decoder.objectToken(index, path: self.path(at: position)), codingPath: self.path(at: position))
            )
        }

        mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
            let (index, position) = try self.next([Any].self)
            return UnkeyedContainer(decoder: self.decoder, array: try self.decoder.arrayToken(index, path: self.path(at: position)), codingPath: self.path(at: position))
        }

        mutating func superDecoder() throws -> any Decoder {
            let (index, position) = try self.next(Any.self)
            return JSONTokenDecoder(bytes: self.decoder.bytes, tokens: self.decoder.tokens, index: index, codingPath: self.path(at: position))
        }
    }

    struct SingleValueContainer: SingleValueDecodingContainer {
        let decoder: JSONTokenDecoder
        var codingPath: [any CodingKey] { self.decoder.codingPath }
        private var index: Int { self.decoder.index }

        func decodeNil() -> Bool { self.decoder.isNull(self.index) }
        func decode(_ type: Bool.Type) throws -> Bool { try self.decoder.decodeBool(at: self.index, path: self.codingPath) }
        func decode(_ type: String.Type) throws -> String { try self.decoder.decodeString(at: self.index, path: self.codingPath) }
        func decode(_ type: Double.Type) throws -> Double {
            try self.decoder.decodeFloatingPoint(type, at: self.index, path: self.codingPath)
        }
        func decode(_ type: Float.Type) throws -> Float {
            try self.decoder.decodeFloatingPoint(type, at: self.index, path: self.codingPath)
        }
        func decode(_ type: Int.Type) throws -> Int { try self.integer(type) }
        func decode(_ type: Int8.Type) throws -> Int8 { try self.integer(type) }
        func decode(_ type: Int16.Type) throws -> Int16 { try self.integer(type) }
        func decode(_ type: Int32.Type) throws -> Int32 { try self.integer(type) }
        func decode(_ type: Int64.Type) throws -> Int64 { try self.integer(type) }
        func decode(_ type: UInt.Type) throws -> UInt { try self.integer(type) }
        func decode(_ type: UInt8.Type) throws -> UInt8 { try self.integer(type) }
        func decode(_ type: UInt16.Type) throws -> UInt16 { try self.integer(type) }
        func decode(_ type: UInt32.Type) throws -> UInt32 { try self.integer(type) }
        func decode(_ type: UInt64.Type) throws -> UInt64 { try self.integer(type) }

        private func integer<Integer: FixedWidthInteger>(_ type: Integer.Type) throws -> Integer {
            try self.decoder.decodeInteger(type, at: self.index, path: self.codingPath)
        }

        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            try self.decoder.decodeValue(type, at: self.index, path: self.codingPath)
        }
    }
}

/// A coding key made at run time: an array index or a `super` key.
struct JSONKey: CodingKey {
    let stringValue: String
    let intValue: Int?

    init(stringValue: String) {
        self.stringValue = stringValue
        self.intValue = nil
    }

    init(intValue: Int) {
        self.stringValue = "Index \(intValue)"
        self.intValue = intValue
    }

    init(index: Int) { self.init(intValue: index) }
}
