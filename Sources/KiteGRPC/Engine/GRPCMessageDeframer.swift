import GRPCCore
import NIOCore

/// Splits the bytes of a request's DATA frames into gRPC messages (a 1-byte compressed flag, a
/// 4-byte big-endian length, the message). A message whose prefix announces more than the limit
/// is refused before any of it is kept; nothing is buffered beyond one message.
struct GRPCMessageDeframer {
    let limit: Int
    private var pending: ByteBuffer?

    init(limit: Int) {
        self.limit = limit
    }

    /// Whether bytes of an incomplete message are waiting.
    var hasPartialMessage: Bool { (self.pending?.readableBytes ?? 0) > 0 }

    /// Adds the bytes of a DATA frame.
    mutating func append(_ bytes: ByteBuffer) {
        if var pending = self.pending, pending.readableBytes > 0 {
            self.pending = nil  // keeps the storage uniquely referenced while it grows
            var bytes = bytes
            pending.writeBuffer(&bytes)
            self.pending = pending
        } else {
            self.pending = bytes  // the usual case: a frame that starts a message is kept as it is
        }
    }

    /// The next whole message, or `nil` when more bytes are needed.
    /// - Throws: `RESOURCE_EXHAUSTED` for a message over the limit, `INTERNAL` for a compressed
    ///   message (this server accepts no compression) or a malformed prefix.
    mutating func next() throws -> ByteBuffer? {
        guard var pending = self.pending, pending.readableBytes >= GRPCMessageCoding.prefixSize,
            let flag = pending.getInteger(at: pending.readerIndex, as: UInt8.self),
            let length = pending.getInteger(at: pending.readerIndex + 1, as: UInt32.self)
        else { return nil }
        switch flag {
        case 0: break
        case 1: throw RPCError(code: .internalError, message: "the request message is compressed, but the call named no grpc-encoding")
        default: throw RPCError(code: .internalError, message: "the request message's compressed flag is \(flag), not 0 or 1")
        }
        guard Int(length) <= self.limit else {
            throw RPCError(
                code: .resourceExhausted,
                message: "request message of \(length) bytes is larger than the limit of \(self.limit) bytes"
            )
        }
        guard pending.readableBytes >= GRPCMessageCoding.prefixSize + Int(length) else { return nil }
        pending.moveReaderIndex(forwardBy: GRPCMessageCoding.prefixSize)
        let message = pending.readSlice(length: Int(length))
        self.pending = pending.readableBytes > 0 ? pending : nil
        return message
    }
}
