import Foundation
import NIOCore

/// The writer that encoders of one message share.
final class ThriftWriterBox {
    var writer: ThriftWriter
    /// Set when a type asked for what Thrift cannot express (a nested container in a keyed one);
    /// thrown once the value is written.
    var unsupported: String?

    init(_ writer: ThriftWriter) {
        self.writer = writer
    }
}

/// The reader that decoders of one message share.
final class ThriftReaderBox {
    var reader: ThriftReader

    init(_ reader: ThriftReader) {
        self.reader = reader
    }
}

/// Writes and reads one value of any supported Swift type (see ``ThriftValueType``).
enum ThriftValueCoding {
    static func write<Value: Encodable>(_ value: Value, to box: ThriftWriterBox) throws {
        switch value {
        case let value as Bool: box.writer.writeBool(value)
        case let value as Int8: box.writer.writeByte(value)
        case let value as UInt8: box.writer.writeByte(Int8(bitPattern: value))
        case let value as Int16: box.writer.writeI16(value)
        case let value as Int32: box.writer.writeI32(value)
        case let value as Int: box.writer.writeI64(Int64(value))
        case let value as Int64: box.writer.writeI64(value)
        case let value as Double: box.writer.writeDouble(value)
        case let value as Float: box.writer.writeDouble(Double(value))
        case let value as String: box.writer.writeString(value)
        case let value as Data: box.writer.writeBinary(value)
        case let value as any ThriftEnum: box.writer.writeI32(value.rawValue)
        case let value as any ThriftSequenceEncodable: try value.thriftWrite(to: box)
        case let value as any ThriftMapEncodable: try value.thriftWrite(to: box)
        default:
            if let optional = value as? any ThriftOptionalEncodable {
                guard let wrapped = optional.thriftWrapped else {
                    throw EncodingError.invalidValue(value, .init(codingPath: [], debugDescription: "Thrift containers cannot hold nil"))
                }
                try self.write(wrapped, to: box)
                return
            }
            try self.writeStruct(value, to: box)
        }
    }

    /// `value` as a Thrift struct: its coding keys' integer values are the field ids; `extra`
    /// writes more fields after them.
    static func writeStruct<Value: Encodable>(_ value: Value, to box: ThriftWriterBox, extra: ((inout ThriftWriter) -> Void)? = nil) throws {
        box.writer.writeStructBegin()
        try value.encode(to: ThriftStructEncoder(box: box))
        if let unsupported = box.unsupported {
            throw EncodingError.invalidValue(value, .init(codingPath: [], debugDescription: unsupported))
        }
        extra?(&box.writer)
        box.writer.writeFieldStop()
        box.writer.writeStructEnd()
    }

    /// Reads a `Value` that arrived as `wireType` (for a compact bool field, its value from the header).
    static func read<Value: Decodable>(
        _ type: Value.Type,
        wireType: ThriftType,
        from box: ThriftReaderBox,
        boolValue: Bool? = nil
    ) throws -> Value {
        func expect(_ wanted: ThriftType...) throws {
            guard wanted.contains(wireType) else {
                throw DecodingError.typeMismatch(Value.self, .init(codingPath: [], debugDescription: "Thrift \(wireType) where \(wanted) was expected"))
            }
        }
        func integer<I: FixedWidthInteger>(_: I.Type) throws -> I {
            let wide: Int64
            switch wireType {
            case .byte: wide = Int64(try box.reader.readByte())
            case .i16: wide = Int64(try box.reader.readI16())
            case .i32: wide = Int64(try box.reader.readI32())
            case .i64: wide = try box.reader.readI64()
            default:
                throw DecodingError.typeMismatch(Value.self, .init(codingPath: [], debugDescription: "Thrift \(wireType) where an integer was expected"))
            }
            guard let value = I(exactly: wide) else {
                throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "\(wide) does not fit \(I.self)"))
            }
            return value
        }
        let value: Any
        switch type {
        case is Bool.Type:
            try expect(.bool)
            value = try boolValue ?? box.reader.readBool()
        case is Int8.Type: value = try integer(Int8.self)
        case is UInt8.Type:
            try expect(.byte)
            value = UInt8(bitPattern: try box.reader.readByte())
        case is Int16.Type: value = try integer(Int16.self)
        case is Int32.Type: value = try integer(Int32.self)
        case is Int.Type: value = try integer(Int.self)
        case is Int64.Type: value = try integer(Int64.self)
        case is Double.Type:
            try expect(.double)
            value = try box.reader.readDouble()
        case is Float.Type:
            try expect(.double)
            value = Float(try box.reader.readDouble())
        case is String.Type:
            try expect(.string)
            value = try box.reader.readString()
        case is Data.Type:
            try expect(.string)
            value = Data(try box.reader.readBinary().readableBytesView)
        case let enumeration as any ThriftEnum.Type:
            let raw = try integer(Int32.self)
            guard let known = enumeration.init(rawValue: raw) else {
                throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "\(raw) is not a value of \(Value.self)"))
            }
            value = known
        case let sequence as any ThriftSequenceDecodable.Type:
            try expect(.list, .set)
            value = try sequence.thriftRead(from: box, wireType: wireType)
        case let map as any ThriftMapDecodable.Type:
            try expect(.map)
            value = try map.thriftRead(from: box)
        case let optional as any ThriftOptionalDecodable.Type:
            value = try optional.thriftRead(from: box, wireType: wireType, boolValue: boolValue)
        default:
            try expect(.struct)
            value = try Value(from: ThriftStructDecoder(box: box))
        }
        guard let typed = value as? Value else {
            throw DecodingError.typeMismatch(Value.self, .init(codingPath: [], debugDescription: "unsupported type"))
        }
        return typed
    }
}

/// An optional, to see through when a value is written.
protocol ThriftOptionalEncodable {
    var thriftWrapped: (any Encodable)? { get }
}

extension Optional: ThriftOptionalEncodable where Wrapped: Encodable {
    var thriftWrapped: (any Encodable)? { self.map { $0 } }
}
