import GRPCCore
import NIOCore
import SwiftProtobuf

/// Protobuf messages to and from gRPC's length-prefixed framing, straight between SwiftProtobuf
/// and SwiftNIO's buffers: a response is serialized into the buffer that carries it (its 5-byte
/// prefix reserved in front), a request is decoded from the bytes the connection read.
enum GRPCMessageCoding {
    /// The prefix of every gRPC message: a compressed flag and a big-endian length.
    static let prefixSize = 5

    /// `message` serialized and framed (uncompressed).
    static func frame<Message: SwiftProtobuf.Message>(_ message: Message) throws -> ByteBuffer {
        do {
            let framed: FramedBytes = try message.serializedBytes()
            return framed.buffer
        } catch {
            throw RPCError(code: .internalError, message: "the response \(Message.protoMessageName) could not be serialized: \(error)")
        }
    }

    /// The message of type `Message` in `bytes`; bytes that are not one answer `INVALID_ARGUMENT`.
    static func decode<Message: SwiftProtobuf.Message>(_: Message.Type, from bytes: ByteBuffer) throws -> Message {
        do {
            return try Message(serializedBytes: ReadBytes(buffer: bytes))
        } catch {
            throw RPCError(code: .invalidArgument, message: "the request is not a valid \(Message.protoMessageName): \(error)")
        }
    }

    private static let allocator = ByteBufferAllocator()

    /// Bytes SwiftProtobuf serializes into, after a gRPC message prefix.
    private struct FramedBytes: SwiftProtobufContiguousBytes {
        var buffer: ByteBuffer

        init(repeating byte: UInt8, count: Int) {
            self.buffer = GRPCMessageCoding.allocator.buffer(capacity: GRPCMessageCoding.prefixSize + count)
            self.buffer.writeInteger(UInt8(0))
            self.buffer.writeInteger(UInt32(truncatingIfNeeded: count))
            self.buffer.writeRepeatingByte(byte, count: count)
        }

        init<S: Sequence>(_ sequence: S) where S.Element == UInt8 {
            let bytes = Array(sequence)
            self.init(repeating: 0, count: bytes.count)
            self.buffer.setBytes(bytes, at: GRPCMessageCoding.prefixSize)
        }

        var count: Int { self.buffer.readableBytes - GRPCMessageCoding.prefixSize }

        func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
            try self.buffer.withUnsafeReadableBytes { bytes in
                try body(UnsafeRawBufferPointer(rebasing: bytes[GRPCMessageCoding.prefixSize...]))
            }
        }

        mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
            try self.buffer.withUnsafeMutableReadableBytes { bytes in
                try body(UnsafeMutableRawBufferPointer(rebasing: bytes[GRPCMessageCoding.prefixSize...]))
            }
        }
    }

    /// A received message's bytes, as SwiftProtobuf reads them.
    private struct ReadBytes: SwiftProtobufContiguousBytes {
        var buffer: ByteBuffer

        init(buffer: ByteBuffer) {
            self.buffer = buffer
        }

        init(repeating byte: UInt8, count: Int) {
            self.buffer = GRPCMessageCoding.allocator.buffer(repeating: byte, count: count)
        }

        init<S: Sequence>(_ sequence: S) where S.Element == UInt8 {
            self.buffer = GRPCMessageCoding.allocator.buffer(bytes: Array(sequence))
        }

        var count: Int { self.buffer.readableBytes }

        func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
            try self.buffer.withUnsafeReadableBytes(body)
        }

        mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
            try self.buffer.withUnsafeMutableReadableBytes(body)
        }
    }
}
