import NIOCore

/// Splits a connection's bytes into whole Thrift messages.
///
/// Framed: each message follows its 4-byte big-endian length; a length past
/// ``ThriftLimits/maxMessageSize`` is refused as soon as it is read. Buffered: messages follow
/// each other with nothing between, so each is measured by walking its structure (within the
/// limits) until all of it has arrived; one that has not ended within the maximum size is refused.
struct ThriftFrameDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    let transport: ThriftTransport
    let `protocol`: ThriftProtocol
    let limits: ThriftLimits

    mutating func decode(buffer: inout ByteBuffer) throws -> ByteBuffer? {
        switch self.transport {
        case .framed:
            guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
            guard length <= self.limits.maxMessageSize else {
                throw ThriftProtocolError("frame of \(length) bytes past the limit of \(self.limits.maxMessageSize)")
            }
            guard buffer.readableBytes >= 4 + Int(length) else { return nil }
            buffer.moveReaderIndex(forwardBy: 4)
            return buffer.readSlice(length: Int(length))
        case .buffered:
            guard let length = try Self.measure(buffer, protocol: self.protocol, limits: self.limits) else {
                if buffer.readableBytes > self.limits.maxMessageSize {
                    throw ThriftProtocolError("message past the limit of \(self.limits.maxMessageSize) bytes")
                }
                return nil
            }
            return buffer.readSlice(length: length)
        }
    }

    /// The length of the whole message at the start of `buffer`, or `nil` when it has not all arrived.
    private static func measure(_ buffer: ByteBuffer, protocol: ThriftProtocol, limits: ThriftLimits) throws -> Int? {
        var reader = ThriftReader(protocol: `protocol`, limits: limits, buffer: buffer)
        do {
            _ = try reader.readMessageBegin()
            try reader.skip(.struct)
        } catch {
            guard error == .truncated else { throw error }
            return nil
        }
        return reader.buffer.readerIndex - buffer.readerIndex
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ByteBuffer? {
        try self.decode(buffer: &buffer)
    }

    /// `message` as the transport sends it.
    static func frame(_ message: ByteBuffer, transport: ThriftTransport) -> ByteBuffer {
        switch transport {
        case .buffered:
            return message
        case .framed:
            var framed = ByteBuffer()
            framed.reserveCapacity(4 + message.readableBytes)
            framed.writeInteger(UInt32(message.readableBytes))
            framed.writeImmutableBuffer(message)
            return framed
        }
    }
}
