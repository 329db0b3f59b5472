import HummingbirdCore
import HummingbirdHTTP2
import Logging
import NIOCore

/// Serves HTTP/1.1 and cleartext HTTP/2 ("h2c" with prior knowledge) on one port: each
/// connection's first bytes decide — the HTTP/2 connection preface (`PRI * HTTP/2.0…`) gets
/// Hummingbird's HTTP/2 channel, anything else its HTTP/1.1 channel.
///
/// (Hummingbird offers HTTP/1.1 alone, h2c alone, or both over TLS through ALPN; a plaintext port
/// that speaks both is what load balancers and `curl --http2-prior-knowledge` expect of a
/// service behind a mesh.)
struct HTTP1AndH2CChannel: ServerChildChannel {
    /// The protocol a connection turned out to speak, once its first bytes arrived.
    enum Negotiated: Sendable {
        case http1(HTTP1Channel.Value)
        case http2(HTTP2Channel.Value)
    }

    struct Value: ServerChildChannelValue {
        let negotiated: EventLoopFuture<Negotiated>
        let channel: any Channel
    }

    let http1: HTTP1Channel
    let http2: HTTP2Channel

    init(responder: @escaping HTTPChannelHandler.Responder, configuration: HTTP1Channel.Configuration) {
        self.http1 = HTTP1Channel(responder: responder, configuration: configuration)
        self.http2 = HTTP2Channel(responder: responder, configuration: .init(streamConfiguration: configuration))
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let negotiated = channel.eventLoop.makePromise(of: Negotiated.self)
        let sniffer = HTTPPrefaceSniffer(negotiated: negotiated) { isHTTP2 in
            isHTTP2
                ? self.http2.setup(channel: channel, logger: logger).map { .http2($0) }
                : self.http1.setup(channel: channel, logger: logger).map { .http1($0) }
        }
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(sniffer)
            return Value(negotiated: negotiated.futureResult, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.negotiated.get() {
            case .http1(let http1): await self.http1.handle(value: http1, logger: logger)
            case .http2(let http2): await self.http2.handle(value: http2, logger: logger)
            }
        } catch {
            logger.debug("connection closed before its protocol was known: \(error)")
        }
    }
}

/// Holds a connection's first bytes until they show whether it speaks HTTP/2 (the 24-byte
/// connection preface) or HTTP/1.1 (any byte that differs from it), has the pipeline configured
/// for that protocol, then hands the bytes on and leaves the pipeline.
final class HTTPPrefaceSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    private let configure: (_ isHTTP2: Bool) -> EventLoopFuture<HTTP1AndH2CChannel.Negotiated>
    private var buffered: ByteBuffer?
    private var decided = false
    private let negotiated: EventLoopPromise<HTTP1AndH2CChannel.Negotiated>

    init(
        negotiated: EventLoopPromise<HTTP1AndH2CChannel.Negotiated>,
        configure: @escaping (_ isHTTP2: Bool) -> EventLoopFuture<HTTP1AndH2CChannel.Negotiated>
    ) {
        self.negotiated = negotiated
        self.configure = configure
    }

    // Connections do not read on their own (the protocols' async channels ask for bytes as they
    // consume them): until the protocol is known, the sniffer asks.
    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { context.read() }
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        context.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = self.unwrapInboundIn(data)
        if self.buffered == nil {
            self.buffered = bytes
        } else {
            self.buffered?.writeBuffer(&bytes)
        }
        guard !self.decided, let buffered = self.buffered else { return }
        let seen = buffered.readableBytesView
        let compared = min(seen.count, Self.preface.count)
        let matches = seen.prefix(compared).elementsEqual(Self.preface.prefix(compared))
        guard !matches || compared == Self.preface.count else { return }  // a preface so far: wait for more
        self.decided = true
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.configure(matches).whenComplete { result in
            let (sniffer, context) = loopBound.value
            switch result {
            case .success(let negotiated):
                if let buffered = sniffer.buffered {
                    sniffer.buffered = nil
                    context.fireChannelRead(sniffer.wrapInboundOut(buffered))
                    context.fireChannelReadComplete()
                }
                context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
                sniffer.negotiated.succeed(negotiated)
            case .failure(let error):
                sniffer.negotiated.fail(error)
                context.close(promise: nil)
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if !self.decided { context.read() }
    }

    /// A connection that ends its input, or a server that begins graceful shutdown, before the
    /// protocol is known: the connection has nothing to answer, so it is closed (the server
    /// allows half-closed connections, so nothing else would close it).
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case ChannelEvent.inputClosed, is ChannelShouldQuiesceEvent:
            if !self.decided {
                self.decided = true
                self.negotiated.fail(ChannelError.eof)
                context.close(promise: nil)
                return
            }
        default:
            break
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !self.decided {
            self.decided = true
            self.negotiated.fail(ChannelError.eof)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !self.decided {
            self.decided = true
            self.negotiated.fail(error)
        }
        context.fireErrorCaught(error)
    }
}
