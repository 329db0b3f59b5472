import Logging
import NIOCore

/// One connection's handler: the handshake (`INFO` → `CONNECT` + `PING` → `PONG`), `PONG`s
/// for the server's `PING`s, and everything else handed to the client.
final class NATSConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = NATSServerOperation
    typealias OutboundOut = ByteBuffer

    private enum Phase {
        case awaitingInfo
        case awaitingPong(NATSServerInfo)
        case connected
        case failed
    }

    private var phase = Phase.awaitingInfo
    private let client: NATSClient
    private let handshake: EventLoopPromise<NATSServerInfo>
    private let handshakeTimeout: TimeAmount
    private let connectCommand: @Sendable (NATSServerInfo) throws -> ByteBuffer
    private var timeoutTask: Scheduled<Void>?

    init(
        client: NATSClient,
        handshake: EventLoopPromise<NATSServerInfo>,
        handshakeTimeout: TimeAmount,
        connectCommand: @escaping @Sendable (NATSServerInfo) throws -> ByteBuffer
    ) {
        self.client = client
        self.handshake = handshake
        self.handshakeTimeout = handshakeTimeout
        self.connectCommand = connectCommand
    }

    func channelActive(context: ChannelHandlerContext) {
        let handler = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.timeoutTask = context.eventLoop.scheduleTask(in: self.handshakeTimeout) {
            let (handler, context) = handler.value
            handler.failHandshake(NATSError.protocolViolation("no handshake within \(handler.handshakeTimeout)"), context: context)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let operation = self.unwrapInboundIn(data)
        if case .ping = operation {
            context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(staticString: "PONG\r\n")), promise: nil)
            return
        }
        switch self.phase {
        case .connected:
            self.client.received(operation, on: context.channel)
        case .awaitingInfo:
            switch operation {
            case .info(let info):
                guard info.headers else {
                    self.failHandshake(NATSError.protocolViolation("the server does not support headers (NATS 2.2 or later needed)"), context: context)
                    return
                }
                do {
                    var command = try self.connectCommand(info)
                    command.writeStaticString("PING\r\n")
                    context.writeAndFlush(self.wrapOutboundOut(command), promise: nil)
                    self.phase = .awaitingPong(info)
                } catch {
                    self.failHandshake(error, context: context)
                }
            case .error(let message):
                self.failHandshake(NATSError.server(message), context: context)
            default:
                self.failHandshake(NATSError.protocolViolation("the server did not start with INFO"), context: context)
            }
        case .awaitingPong(let info):
            switch operation {
            case .pong:
                self.phase = .connected
                self.timeoutTask?.cancel()
                self.handshake.succeed(info)
            case .error(let message):
                self.failHandshake(NATSError.server(message), context: context)
            default:
                break  // +OK, an updated INFO
            }
        case .failed:
            break
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if case .connected = self.phase, context.channel.isWritable {
            self.client.flushOutbox(on: context.channel)
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if case .connected = self.phase {
            self.client.logger.warning("nats: closing the connection", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        } else {
            self.failHandshake(error, context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.failHandshake(NATSError.protocolViolation("the server closed the connection during the handshake"), context: context)
        context.fireChannelInactive()
    }

    /// Fails the handshake, if it is still under way, and closes the connection.
    private func failHandshake(_ error: any Error, context: ChannelHandlerContext) {
        switch self.phase {
        case .awaitingInfo, .awaitingPong:
            self.phase = .failed
            self.timeoutTask?.cancel()
            self.handshake.fail(error)
            context.close(promise: nil)
        case .connected, .failed:
            break
        }
    }
}
