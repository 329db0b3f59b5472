import NIOCore

/// Hands a client connection's replies to its ``ThriftConnection``.
final class ThriftClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let connection: ThriftConnection

    init(connection: ThriftConnection) {
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.connection.received(self.unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.connection.disconnected(context.channel)
        context.fireChannelInactive()
    }
}
