import NIOCore

/// Holds a connection's flushes until the event loop has run what is queued on it, then flushes
/// once: the answers of the calls that one read brought in (each finished by its own task, each
/// flushing) leave in one `writev` rather than one each — what grpc-go's writer does by batching
/// frames. Sits between the socket and the HTTP/2 handler. A flush waits for no timer, only for
/// the work already queued on the loop.
final class GRPCFlushCoalescer: ChannelOutboundHandler {
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private var flushPending = false

    func flush(context: ChannelHandlerContext) {
        guard !self.flushPending else { return }
        self.flushPending = true
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let (coalescer, context) = loopBound.value
            guard coalescer.flushPending else { return }  // a close flushed already
            coalescer.flushPending = false
            context.flush()
        }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if self.flushPending {
            self.flushPending = false
            context.flush()
        }
        context.close(mode: mode, promise: promise)
    }
}
