import NIOCore

/// Splits the server's stream into packets: each is an `Int32` length, then that many bytes. A
/// negative length or one over the limit is an error (the connection is then closed), never an
/// allocation of what a hostile length asks for.
struct ZooKeeperFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    /// ZooKeeper's own default `jute.maxbuffer` is about 1 MiB; a reply of children can be larger.
    static let maxFrameBytes: Int32 = 16 << 20

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: Int32.self) else { return .needMoreData }
        guard length >= 0, length <= Self.maxFrameBytes else {
            throw ZooKeeperError.malformed("a packet length of \(length)")
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        guard let frame = buffer.readSlice(length: Int(length)) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }
}
