import HTTPTypes
import Kite
import NIOCore
import NIOHTTPTypes

/// Collects each request of an HTTP/1.1 connection or an HTTP/2 stream, answers it through
/// ``HTTPRequestResponder`` in a task that runs on the connection's event loop, and writes the
/// response.
///
/// One task serves the connection: started with its first request, it answers each request in
/// turn and waits (suspended, holding no thread) for the next, and ends with the connection — a
/// request costs a resumption, not a task's creation and destruction.
///
/// Requests of one HTTP/1.1 connection are answered in order: pipelined requests wait, collected,
/// until the one before is answered (at most ``maxQueued``; beyond that the connection is not
/// read). Reading never stops for a request in flight, which spares the two `epoll_ctl` calls a
/// request would otherwise cost. A body over the limit is not kept (the rest of it is read and
/// dropped) and the request is answered 413; the connection then closes. A connection whose
/// input ends, or that is asked to quiesce (graceful shutdown), closes once its last request is
/// answered — at once when it has none. A connection that goes away cancels its task, and with it
/// the request in flight. (An idle keep-alive connection that has had a request keeps its task,
/// suspended, until it closes.)
final class HTTPRequestHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPRequestPart
    typealias OutboundIn = Never
    typealias OutboundOut = HTTPResponsePart

    /// A request received whole, waiting for its turn.
    private struct Collected {
        var request: HTTPRequest
        /// `nil` when it was over the limit.
        var body: ByteBuffer?
        var start: ContinuousClock.Instant
    }

    /// Pipelined requests held at most before the connection stops being read.
    static let maxQueued = 16

    private let responder: HTTPRequestResponder
    private let isHTTP1: Bool
    private var collecting: Collected?
    private var queue = CircularBuffer<Collected>(initialCapacity: 1)
    private var responding = false
    /// No more requests will come: the input ended, or the server is shutting down.
    private var finishing = false
    private var readHeld = false
    /// No request will be answered any more: the connection closed or is closing.
    private var done = false
    /// The task that answers the connection's requests, once it has had one.
    private var server: Task<Void, Never>?
    /// The serving task, suspended until a request is ready for it.
    private var waiting: UnsafeContinuation<Collected?, Never>?

    /// - Parameter isHTTP1: Whether the handler serves an HTTP/1.1 connection (rather than an
    ///   HTTP/2 stream, which has no `Connection` field).
    init(responder: HTTPRequestResponder, isHTTP1: Bool) {
        self.responder = responder
        self.isHTTP1 = isHTTP1
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.end()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let request):
            var body: ByteBuffer? = context.channel.allocator.buffer(capacity: 0)
            if let length = request.headerFields.value(of: .contentLength).flatMap(Int.init), length > self.responder.maxBodySize {
                body = nil
            }
            self.collecting = Collected(request: request, body: body, start: .now)
        case .body(var part):
            guard var collected = self.collecting else { return }
            self.collecting = nil  // keeps the body's storage uniquely referenced while it grows
            if let size = collected.body?.readableBytes {
                if size + part.readableBytes > self.responder.maxBodySize {
                    collected.body = nil
                } else if size == 0 {
                    // The first part as it came, a slice of the bytes read: no copy.
                    collected.body = part
                } else {
                    collected.body?.writeBuffer(&part)
                }
            }
            self.collecting = collected
        case .end:
            guard let collected = self.collecting else { return }
            self.collecting = nil
            self.queue.append(collected)
            if let waiting = self.waiting {
                self.waiting = nil
                self.provide(to: waiting, context: context)
            } else if self.server == nil {
                self.startServing(context: context)
            }
        }
    }

    func read(context: ChannelHandlerContext) {
        if self.queue.count >= Self.maxQueued {
            self.readHeld = true
        } else {
            context.read()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case ChannelEvent.inputClosed, is ChannelShouldQuiesceEvent:
            self.finishing = true
            if !self.responding && self.queue.isEmpty { context.close(promise: nil) }
            if event is ChannelShouldQuiesceEvent { return }
        default:
            break
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.server?.cancel()
        self.end()
        context.fireChannelInactive()
    }

    /// No more answers: the serving task, if it waits, ends.
    private func end() {
        self.done = true
        self.queue.removeAll()
        if let waiting = self.waiting {
            self.waiting = nil
            waiting.resume(returning: nil)
        }
    }

    /// Starts the task that answers this connection's requests, in turn, on its event loop.
    private func startServing(context: ChannelHandlerContext) {
        let responder = self.responder
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        let executor = EventLoopTaskExecutor(eventLoop)
        self.server = Task(executorPreference: executor) {
            await HTTPRequestHandler.serve(loopBound, responder: responder, eventLoop: eventLoop)
        }
    }

    /// The serving task's loop: each request answered and its response written, until the
    /// connection is done.
    private static func serve(
        _ loopBound: NIOLoopBound<(HTTPRequestHandler, ChannelHandlerContext)>,
        responder: HTTPRequestResponder,
        eventLoop: any EventLoop
    ) async {
        while let next = await Self.next(loopBound, on: eventLoop) {
            let (response, route) = await responder.respond(to: next.request, body: next.body)
            // Written inline when the task is on its event loop (the usual case): a closure
            // would be allocated for every response.
            if eventLoop.inEventLoop {
                let (handler, context) = loopBound.value
                handler.write(response, of: next, route: route, context: context)
            } else {
                try? await eventLoop.submit {
                    let (handler, context) = loopBound.value
                    handler.write(response, of: next, route: route, context: context)
                }.get()
            }
        }
    }

    /// The next request to answer, once there is one; `nil` when the connection is done. The
    /// handler is asked on its event loop: at once when the task runs there (the usual case).
    private static func next(
        _ loopBound: NIOLoopBound<(HTTPRequestHandler, ChannelHandlerContext)>,
        on eventLoop: any EventLoop
    ) async -> Collected? {
        await withUnsafeContinuation { continuation in
            if eventLoop.inEventLoop {
                let (handler, context) = loopBound.value
                handler.provide(to: continuation, context: context)
            } else {
                eventLoop.execute {
                    let (handler, context) = loopBound.value
                    handler.provide(to: continuation, context: context)
                }
            }
        }
    }

    /// Hands the serving task the next collected request; keeps it waiting when there is none, or
    /// ends it when none will come (closing a finishing connection).
    private func provide(to continuation: UnsafeContinuation<Collected?, Never>, context: ChannelHandlerContext) {
        guard !self.done else {
            continuation.resume(returning: nil)
            return
        }
        guard let next = self.queue.popFirst() else {
            if self.finishing && self.collecting == nil {
                self.done = true
                continuation.resume(returning: nil)
                context.close(promise: nil)
            } else {
                self.waiting = continuation
            }
            return
        }
        if self.readHeld && self.queue.count < Self.maxQueued {
            self.readHeld = false
            context.read()
        }
        self.responding = true
        continuation.resume(returning: next)
    }

    private func write(_ response: HTTPServerResponse, of request: Collected, route: HTTPRoutes.Route?, context: ChannelHandlerContext) {
        self.responding = false
        guard context.channel.isActive else { return }
        // A body over the limit was not read whole: the connection cannot carry another request.
        let closing = request.body == nil || (self.finishing && self.queue.isEmpty && self.collecting == nil)
        let finalizers = route?.options.finalizer ?? []
        let written = finalizers.isEmpty ? nil : context.eventLoop.makePromise(of: Void.self)
        if self.isHTTP1 {
            // HTTP1ServerCodec writes the head, its Content-Length and the body as one buffer.
            var response = response
            if closing { response.head.headerFields[.connection] = "close" }
            context.writeAndFlush(NIOAny(response), promise: written)
        } else {
            var head = response.head
            head.headerFields[.contentLength] = String(response.body.readableBytes)
            context.write(self.wrapOutboundOut(.head(head)), promise: nil)
            if response.body.readableBytes > 0 {
                context.write(self.wrapOutboundOut(.body(response.body)), promise: nil)
            }
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: written)
        }
        if let written {
            let call = HTTPServerCallSummary(
                method: request.request.method.rawValue,
                path: String(HTTPRouteTemplate.withoutQuery(Substring(request.request.path ?? "/"))),
                route: route?.path ?? "",
                status: response.head.status.code,
                duration: .zero,
                requestBodySize: request.body?.readableBytes ?? 0,
                responseBodySize: response.body.readableBytes
            )
            written.futureResult.whenComplete { _ in
                var finished = call
                finished.duration = request.start.duration(to: .now)
                for finalizer in finalizers { finalizer(finished) }
            }
        }
        if closing {
            // HTTP/1.1: HTTP1ServerCodec closes the connection after a `Connection: close` response.
            self.end()
        }
    }
}
