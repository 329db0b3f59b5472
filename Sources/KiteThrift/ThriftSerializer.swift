import NIOCore

/// Thrift structs to bytes and back, in one protocol — what the transports use, also for a
/// struct stored or sent some other way.
///
/// ```swift
/// struct SumReply: Codable { var value: Int; var err: String
///     enum CodingKeys: Int, CodingKey { case value = 1, err = 2 } }
/// let bytes = try ThriftSerializer(protocol: .compact).encode(SumReply(value: 3, err: ""))
/// ```
public struct ThriftSerializer: Sendable {
    /// The protocol.
    public var `protocol`: ThriftProtocol
    /// What reading accepts.
    public var limits: ThriftLimits

    public init(protocol: ThriftProtocol, limits: ThriftLimits = ThriftLimits()) {
        self.protocol = `protocol`
        self.limits = limits
    }

    /// `value` as a Thrift struct.
    public func encode<Value: Encodable>(_ value: Value) throws -> ByteBuffer {
        let box = ThriftWriterBox(ThriftWriter(protocol: self.protocol))
        try ThriftValueCoding.writeStruct(value, to: box)
        return box.writer.buffer
    }

    /// A `Value` from a Thrift struct in `buffer`.
    /// - Throws: ``ThriftProtocolError`` for bytes that are not a struct within the limits,
    ///   `DecodingError` for a struct that is not a `Value`.
    public func decode<Value: Decodable>(_ type: Value.Type, from buffer: ByteBuffer) throws -> Value {
        let box = ThriftReaderBox(ThriftReader(protocol: self.protocol, limits: self.limits, buffer: buffer))
        return try ThriftValueCoding.read(type, wireType: .struct, from: box)
    }
}
