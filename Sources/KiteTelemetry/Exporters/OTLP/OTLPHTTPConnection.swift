import NIOCore
import NIOHTTP1
import NIOPosix

/// One keep-alive HTTP/1.1 connection to an `http://` OTLP endpoint, on one event loop: the
/// request is written straight to the socket and the reply read by SwiftNIO's HTTP/1.1 codec,
/// with nothing else per request (no connection pool, request or body state machines).
///
/// - The connection is made on first use and again after it closed (the collector restarted, an
///   idle timeout, `Connection: close`, a request that timed out).
/// - Requests sent while others wait for their replies are pipelined on the same connection;
///   replies are matched to requests in order.
/// - A request without a reply by its timeout, or whose task is cancelled, fails, and its
///   connection is closed, so that requests behind a hung one are not held up: they fail too and
///   their sender tries again on a new connection.
/// - A closed connection, a refused connect and a malformed reply fail the requests waiting on it;
///   ``OTLPHTTPSender`` treats those failures as retryable.
/// - The connection closes when nothing refers to it any more (its exporter is gone).
///
/// All mutable state lives on the connection's event loop.
final class OTLPHTTPConnection: OTLPHTTPTransport {
    /// Where to connect and what to ask for, from an `http://` URL.
    struct Target: Sendable, Equatable {
        /// The host to connect to (an IPv6 address without its brackets).
        var host: String
        var port: Int
        /// The `Host` header: the URL's host and port as written, without user information.
        var hostHeader: String
        /// The request target: the URL's path and query (`/` when it has none).
        var path: String

        /// The target of an `http://` URL, or `nil` for `https://`, a URL the configuration
        /// refuses (``OTLPURL``) or port 0. User information (`user:password@`) is not sent: OTLP
        /// puts credentials in headers.
        init?(url: String) {
            guard let parts = try? OTLPURL(url), !parts.isHTTPS, parts.port != 0 else { return nil }
            self.host = String(parts.host)
            self.port = parts.port ?? 80
            self.hostHeader = String(parts.authority)
            self.path = parts.pathAndQuery.hasPrefix("/") ? String(parts.pathAndQuery) : "/" + parts.pathAndQuery
        }
    }

    /// Why a request got no reply.
    struct Failure: Error, CustomStringConvertible {
        var description: String

        static let closed = Failure(description: "the collector closed the connection before replying")
        static let timedOut = Failure(description: "no reply within the export timeout")
    }

    let target: Target
    private let eventLoop: any EventLoop
    private let state: NIOLoopBoundBox<State>

    /// The connection's state, on its event loop.
    private struct State {
        /// The open connection's handler, if one is open.
        var handler: ReplyHandler?
        /// The connection being made, if one is.
        var connecting: EventLoopFuture<Void>?
    }

    /// Creates a connection to `target`, made on first use, on `eventLoop`.
    init(target: Target, eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next()) {
        self.target = target
        self.eventLoop = eventLoop
        self.state = .makeBoxSendingValue(State(), eventLoop: eventLoop)
    }

    deinit {
        // Nothing refers to this connection any more (its exporter is gone): close the socket.
        let state = self.state
        self.eventLoop.execute { state.value.handler?.close() }
    }

    /// Whether a connection is open (for tests).
    func isOpen() async throws -> Bool {
        try await self.eventLoop.submit { self.state.value.handler?.isActive == true }.get()
    }

    func post(_ body: ByteBuffer, headers: HTTPHeaders, timeout: Duration) async throws -> OTLPHTTPReply {
        let promise = self.eventLoop.makePromise(of: OTLPHTTPReply.self)
        var headers = headers
        headers.replaceOrAdd(name: "Host", value: self.target.hostHeader)
        headers.replaceOrAdd(name: "Content-Length", value: String(body.readableBytes))
        let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: self.target.path, headers: headers)
        let exchange = NIOLoopBoundBox.makeBoxSendingValue(Exchange(promise: promise), eventLoop: self.eventLoop)
        let deadline = NIODeadline.now() + .nanoseconds(max(timeout.clampedNanoseconds, 1))
        self.eventLoop.execute {
            self.begin(exchange.value, head: head, body: body, deadline: deadline)
        }
        return try await withTaskCancellationHandler {
            try await promise.futureResult.get()
        } onCancel: {
            self.eventLoop.execute { exchange.value.fail(CancellationError()) }
        }
    }

    /// How many requests on the open connection wait for their replies (for tests).
    func waitingCount() async throws -> Int {
        try await self.eventLoop.submit { self.state.value.handler?.waitingCount ?? 0 }.get()
    }

    /// Sends the request once the connection is up; fails it at `deadline`.
    private func begin(_ exchange: Exchange, head: HTTPRequestHead, body: ByteBuffer, deadline: NIODeadline) {
        let bound = NIOLoopBound(exchange, eventLoop: self.eventLoop)
        let timeout = self.eventLoop.scheduleTask(deadline: deadline) { bound.value.fail(Failure.timedOut) }
        exchange.promise.futureResult.whenComplete { _ in timeout.cancel() }
        self.connected().whenComplete { result in
            let exchange = bound.value
            guard !exchange.isFinished else { return }
            switch result {
            case .success:
                guard let handler = self.state.value.handler else {
                    exchange.fail(Failure.closed)
                    return
                }
                handler.send(exchange, head: head, body: body)
            case .failure(let error):
                exchange.fail(error)
            }
        }
    }

    /// Succeeds when a connection is open, making one if none is (or is being made).
    private func connected() -> EventLoopFuture<Void> {
        if let handler = self.state.value.handler, handler.isActive { return self.eventLoop.makeSucceededVoidFuture() }
        if let connecting = self.state.value.connecting { return connecting }
        let state = self.state
        let connecting = ClientBootstrap(group: self.eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ReplyHandler())
                }
            }
            .connect(host: self.target.host, port: self.target.port)
            .flatMapThrowing { channel in
                let handler = try channel.pipeline.syncOperations.handler(type: ReplyHandler.self)
                state.value.handler = handler
                state.value.connecting = nil
                let bound = NIOLoopBound(handler, eventLoop: channel.eventLoop)
                channel.closeFuture.whenComplete { _ in
                    if state.value.handler === bound.value { state.value.handler = nil }
                }
            }
        connecting.whenFailure { _ in state.value.connecting = nil }
        self.state.value.connecting = connecting
        return connecting
    }
}

extension OTLPHTTPConnection {
    /// One request's life on the connection's event loop: finished once, by its reply or a failure.
    final class Exchange {
        let promise: EventLoopPromise<OTLPHTTPReply>
        /// The connection the request was written on, once it was.
        var handler: ReplyHandler?
        private(set) var isFinished = false

        init(promise: EventLoopPromise<OTLPHTTPReply>) {
            self.promise = promise
        }

        func succeed(_ reply: OTLPHTTPReply) {
            guard !self.isFinished else { return }
            self.isFinished = true
            self.promise.succeed(reply)
        }

        /// Fails the request; a request already written closes its connection, whose replies can no
        /// longer be trusted to come in time for the requests behind it.
        func fail(_ error: any Error) {
            guard !self.isFinished else { return }
            self.isFinished = true
            self.promise.fail(error)
            self.handler?.close()
        }
    }

    /// Writes requests and hands each reply to the request it answers, in order.
    final class ReplyHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart
        typealias OutboundOut = HTTPClientRequestPart

        private var context: ChannelHandlerContext?
        /// Whether the connection is being closed (by either side): no new request goes on it.
        private var isClosing = false
        /// Requests written whose reply has not ended, oldest first.
        private var waiting = CircularBuffer<Exchange>()
        private var head: HTTPResponseHead?
        private var body = ByteBuffer()

        /// Whether a request can be written now.
        var isActive: Bool { !self.isClosing && self.context?.channel.isActive == true }

        /// Requests written whose reply has not ended.
        var waitingCount: Int { self.waiting.count }

        func handlerAdded(context: ChannelHandlerContext) {
            self.context = context
        }

        func handlerRemoved(context: ChannelHandlerContext) {
            self.context = nil
            self.failAll(Failure.closed)
        }

        /// Writes the request; its reply (or the connection's end) finishes `exchange`.
        func send(_ exchange: Exchange, head: HTTPRequestHead, body: ByteBuffer) {
            guard let context, context.channel.isActive else {
                exchange.fail(Failure.closed)
                return
            }
            exchange.handler = self
            self.waiting.append(exchange)
            context.write(self.wrapOutboundOut(.head(head)), promise: nil)
            context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            // A failed write (a head SwiftNIO's codec refuses, a reset connection) reaches
            // `errorCaught` or closes the channel: either fails every request waiting on it.
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
        }

        func close() {
            self.isClosing = true
            self.context?.close(promise: nil)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch self.unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                self.body.clear()
            case .body(var part):
                if self.body.readableBytes < OTLPHTTPReply.maxKeptBodyBytes { self.body.writeBuffer(&part) }
            case .end:
                guard let head = self.head else { return }
                self.head = nil
                // An informational reply (100 Continue) comes before the real one.
                if (100..<200).contains(head.status.code) { return }
                guard let exchange = self.waiting.popFirst() else {
                    // A reply nobody asked for: the connection cannot be trusted.
                    self.close()
                    return
                }
                let reply = OTLPHTTPReply(status: Int(head.status.code), retryAfter: head.headers.first(name: "Retry-After"), body: self.body)
                self.body = ByteBuffer()
                // `Connection: close`: no request may follow this one here.
                if !head.isKeepAlive { self.close() }
                exchange.succeed(reply)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            self.isClosing = true
            self.failAll(Failure.closed)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            self.isClosing = true
            self.failAll(error)
            context.close(promise: nil)
        }

        private func failAll(_ error: any Error) {
            while let exchange = self.waiting.popFirst() {
                exchange.handler = nil  // the connection is going already
                exchange.fail(error)
            }
        }
    }
}
