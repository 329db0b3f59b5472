/// A `KeyValue` (`opentelemetry/proto/common/v1/common.proto`) holding a string, an integer, a
/// double or a Boolean — the members nearly every attribute uses — as a field of its enclosing
/// message, tag and length included.
///
/// Its size is known before it is written, so it is written front to back with no length to
/// patch afterwards: by ``ProtobufWriter`` into a request, and by a span's ``EncodedAttributes``
/// when the attribute is set — the same bytes either way.
struct ScalarKeyValue {
    /// The `AnyValue` member.
    enum Value {
        /// `string_value`: UTF-8 bytes.
        case string(UnsafeRawBufferPointer)
        /// `int_value`.
        case int(Int64)
        /// `double_value`.
        case double(Double)
        /// `bool_value`.
        case bool(Bool)
    }

    private let tag: UInt64
    private let key: UnsafeRawBufferPointer
    private let value: Value
    /// The length of the `AnyValue` message.
    private let anyValueLength: Int
    /// The length of the `KeyValue` message.
    private let length: Int
    /// The bytes the field takes, its tag and length included.
    let size: Int

    /// What a value's encoded length depends on.
    enum Shape {
        case stringLength(Int)
        case int(Int64)
        case double
        case bool
    }

    /// The field `field` holding `key` (UTF-8) and `value`.
    @inline(__always)
    init(field: UInt32, key: UnsafeRawBufferPointer, value: Value) {
        self.tag = UInt64(field << 3 | ProtobufWriter.WireType.lengthDelimited.rawValue)
        self.key = key
        self.value = value
        let shape: Shape =
            switch value {
            case .string(let bytes): .stringLength(bytes.count)
            case .int(let int): .int(int)
            case .double: .double
            case .bool: .bool
            }
        (self.anyValueLength, self.length, self.size) = Self.lengths(tag: self.tag, keyLength: key.count, shape)
    }

    /// The bytes a field `field` takes whose key is `keyLength` UTF-8 bytes long and whose value
    /// has the shape `value`.
    @inline(__always)
    static func size(field: UInt32, keyLength: Int, value: Shape) -> Int {
        Self.lengths(tag: UInt64(field << 3 | ProtobufWriter.WireType.lengthDelimited.rawValue), keyLength: keyLength, value).field
    }

    /// The lengths of the `AnyValue`, of the `KeyValue`, and of the field.
    @inline(__always)
    private static func lengths(tag: UInt64, keyLength: Int, _ shape: Shape) -> (anyValue: Int, keyValue: Int, field: Int) {
        let anyValue =
            switch shape {
            case .stringLength(let count): 1 + ProtobufWriter.varintSize(UInt64(count)) + count
            case .int(let int): 1 + ProtobufWriter.varintSize(UInt64(bitPattern: int))
            case .double: 9
            case .bool: 2
            }
        // proto3: an empty key is left out, as `ProtobufWriter.stringField` would.
        let keyField = keyLength == 0 ? 0 : 1 + ProtobufWriter.varintSize(UInt64(keyLength)) + keyLength
        let keyValue = keyField + 1 + ProtobufWriter.varintSize(UInt64(anyValue)) + anyValue
        return (anyValue, keyValue, ProtobufWriter.varintSize(tag) + ProtobufWriter.varintSize(UInt64(keyValue)) + keyValue)
    }

    /// Stores the field's ``size`` bytes at `target`.
    @inline(__always)
    func store(at target: UnsafeMutableRawPointer) {
        var offset = ProtobufWriter.storeVarint(self.tag, at: target)
        offset += ProtobufWriter.storeVarint(UInt64(self.length), at: target + offset)
        if !self.key.isEmpty {
            target.storeBytes(of: 0x0A, toByteOffset: offset, as: UInt8.self)  // field 1, length-delimited
            offset += 1
            offset += ProtobufWriter.storeVarint(UInt64(self.key.count), at: target + offset)
            ProtobufWriter.copy(self.key, to: target + offset)
            offset += self.key.count
        }
        target.storeBytes(of: 0x12, toByteOffset: offset, as: UInt8.self)  // field 2, length-delimited
        offset += 1
        offset += ProtobufWriter.storeVarint(UInt64(self.anyValueLength), at: target + offset)
        switch self.value {
        case .string(let bytes):
            target.storeBytes(of: 0x0A, toByteOffset: offset, as: UInt8.self)  // string_value (1)
            offset += 1
            offset += ProtobufWriter.storeVarint(UInt64(bytes.count), at: target + offset)
            ProtobufWriter.copy(bytes, to: target + offset)
        case .int(let int):
            target.storeBytes(of: 0x18, toByteOffset: offset, as: UInt8.self)  // int_value (3), varint
            _ = ProtobufWriter.storeVarint(UInt64(bitPattern: int), at: target + offset + 1)
        case .double(let double):
            target.storeBytes(of: 0x21, toByteOffset: offset, as: UInt8.self)  // double_value (4), fixed64
            (target + offset + 1).storeBytes(of: double.bitPattern.littleEndian, as: UInt64.self)
        case .bool(let bool):
            target.storeBytes(of: 0x10, toByteOffset: offset, as: UInt8.self)  // bool_value (2), varint
            target.storeBytes(of: bool ? 1 : 0, toByteOffset: offset + 1, as: UInt8.self)
        }
    }
}
