import Kite
import Logging
import NIOCore

/// One server connection: each whole message (from ``ThriftFrameDecoder``) is a call, served in
/// a task of its own on the connection's event loop; its reply is written when it is ready (a
/// client that sends several calls at once gets each reply, with its sequence id, as it is done).
///
/// A message whose header cannot be read, or a framing error, closes the connection (nothing can
/// be answered); everything else is answered: an unknown method or a message that is not a call
/// with a `TApplicationException`, a malformed argument struct with a protocol error. On graceful
/// shutdown the connection closes once its calls in flight have answered.
final class ThriftConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    struct Shared: Sendable {
        let routes: [String: ThriftRoutes.Route]
        let `protocol`: ThriftProtocol
        let transport: ThriftTransport
        let limits: ThriftLimits
        let logger: Logger
    }

    private let shared: Shared
    private var executor: EventLoopTaskExecutor?
    private var calls: [Int: Task<Void, Never>] = [:]
    private var nextCall = 0
    private var quiescing = false
    private var peer: String?

    init(shared: Shared) {
        self.shared = shared
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.executor = EventLoopTaskExecutor(context.eventLoop)
        self.peer = context.channel.remoteAddress?.ipAddress
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = self.unwrapInboundIn(data)
        var reader = ThriftReader(protocol: self.shared.protocol, limits: self.shared.limits, buffer: message)
        let header: ThriftMessageHeader
        do {
            header = try reader.readMessageBegin()
        } catch {
            self.shared.logger.warning("thrift: closing a connection that sent an unreadable message", metadata: ["error": "\(error)"])
            context.close(promise: nil)
            return
        }
        guard header.type == .call || header.type == .oneway else {
            let error = ThriftApplicationError(.invalidMessageType, "INVALID_ARGUMENT: expected a call, not a \(header.type)")
            self.write(ThriftCallCoding.exception(error, header: header, protocol: self.shared.protocol), context: context)
            return
        }
        guard let route = self.shared.routes[header.name], let executor = self.executor else {
            if header.type == .call {
                let error = ThriftApplicationError(.unknownMethod, "UNIMPLEMENTED: Invalid method name: '\(header.name)'")
                self.write(ThriftCallCoding.exception(error, header: header, protocol: self.shared.protocol), context: context)
            }
            return
        }
        let id = self.nextCall
        self.nextCall += 1
        let peer = self.peer
        let handler = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let arguments = reader
        self.calls[id] = Task(executorPreference: executor) {
            let reply = await route.answer(header, arguments, peer)
            handler.eventLoop.execute {
                let (handler, context) = handler.value
                handler.finished(id, reply: header.type == .oneway ? nil : reply, context: context)
            }
        }
    }

    private func finished(_ id: Int, reply: ByteBuffer?, context: ChannelHandlerContext) {
        guard self.calls.removeValue(forKey: id) != nil else { return }  // the connection closed meanwhile
        if let reply { self.write(reply, context: context) }
        if self.quiescing && self.calls.isEmpty { context.close(promise: nil) }
    }

    private func write(_ message: ByteBuffer, context: ChannelHandlerContext) {
        context.writeAndFlush(self.wrapOutboundOut(ThriftFrameDecoder.frame(message, transport: self.shared.transport)), promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            self.quiescing = true
            if self.calls.isEmpty { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.shared.logger.warning("thrift: closing a connection", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        for task in self.calls.values { task.cancel() }
        self.calls = [:]
        context.fireChannelInactive()
    }
}
