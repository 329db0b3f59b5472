import NIOCore

/// Holds a connection's first bytes until they show whether it speaks HTTP/2 (the 24-byte
/// connection preface) or HTTP/1.1 (any byte that differs from it), has the pipeline configured
/// for that protocol, then hands the bytes on and leaves the pipeline.
final class HTTPPrefaceSniffer<Negotiated: Sendable>: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer


    private let configure: (_ isHTTP2: Bool) -> EventLoopFuture<Negotiated>
    private var buffered: ByteBuffer?
    private var decided = false
    /// Whether `negotiated` is completed: it is completed exactly once, on every path.
    private var settled = false
    private let negotiated: EventLoopPromise<Negotiated>

    init(
        negotiated: EventLoopPromise<Negotiated>,
        configure: @escaping (_ isHTTP2: Bool) -> EventLoopFuture<Negotiated>
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
        let compared = min(seen.count, http2ConnectionPreface.count)
        let matches = seen.prefix(compared).elementsEqual(http2ConnectionPreface.prefix(compared))
        guard !matches || compared == http2ConnectionPreface.count else { return }  // a preface so far: wait for more
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
                sniffer.settle(.success(negotiated))
                context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            case .failure(let error):
                sniffer.settle(.failure(error))
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
                self.settle(.failure(ChannelError.eof))
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
            self.settle(.failure(ChannelError.eof))
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !self.decided {
            self.decided = true
            self.settle(.failure(error))
        }
        context.fireErrorCaught(error)
    }

    /// Removed with the protocol still being configured — the connection closed meanwhile: the
    /// promise must not outlive the sniffer uncompleted (SwiftNIO traps on a leaked promise).
    func handlerRemoved(context: ChannelHandlerContext) {
        self.settle(.failure(ChannelError.ioOnClosedChannel))
    }

    /// Completes `negotiated` unless it already is.
    func settle(_ result: Result<Negotiated, any Error>) {
        guard !self.settled else { return }
        self.settled = true
        self.negotiated.completeWith(result)
    }
}

/// The bytes every HTTP/2 connection starts with (RFC 9113, section 3.4).
private let http2ConnectionPreface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
