import GRPCCore
import Kite
import KiteTelemetry
import NIOCore
import NIOHPACK
import NIOHTTP2

/// One gRPC call on its HTTP/2 stream, as ``GRPCConnectionHandler`` serves it: reads the
/// request's headers and messages, runs the method's handler in a task that prefers the
/// connection's event loop as its executor (no thread hop per call), and writes the response —
/// headers, messages, then the trailers with the status. Lives on the event loop.
///
/// A call that cannot be served is answered at once with a status and no messages (trailers
/// only): an unknown method or service `UNIMPLEMENTED`, a request message over the limit
/// `RESOURCE_EXHAUSTED` (none of it kept), a compressed or cut-off message `INTERNAL`, a unary
/// request of no message or of several `INVALID_ARGUMENT`, a request that is not gRPC (not
/// `POST`, another content type) an HTTP error status. When the caller's `grpc-timeout` passes,
/// the call is answered `DEADLINE_EXCEEDED` and its task cancelled; when the caller resets the
/// stream or the connection goes, the task is cancelled.
final class GRPCServerStream {
    /// What every stream of a server shares.
    struct Shared: Sendable {
        let methods: [String: GRPCServedMethod]
        let services: Set<String>
        let maxRequestMessageSize: Int
    }

    let id: HTTP2StreamID
    private let shared: Shared
    private let peer: GRPCPeer?
    private let connection: GRPCConnectionHandler
    private let context: ChannelHandlerContext
    private let executor: EventLoopTaskExecutor
    private var deframer: GRPCMessageDeframer

    private var method: GRPCServedMethod?
    private var call: GRPCServerCall?
    /// The one request message of a call whose caller does not stream.
    private var single: ByteBuffer?
    /// The request messages of a client or bidirectional stream.
    private var source: GRPCRequestMessages.Stream.Source?
    /// The caller has sent `END_STREAM`.
    private var callerDone = false
    private var headersSent = false
    /// The trailers went out (or the stream is gone): nothing more is written.
    private(set) var finished = false
    private var task: Task<Void, Never>?
    private var deadline: Scheduled<Void>?
    /// The caller's stream window is not reopened while its reader has enough messages waiting,
    /// so HTTP/2 flow control holds the caller back.
    private(set) var readHeld = false

    init(
        id: HTTP2StreamID,
        shared: Shared,
        peer: GRPCPeer?,
        connection: GRPCConnectionHandler,
        context: ChannelHandlerContext,
        executor: EventLoopTaskExecutor
    ) {
        self.id = id
        self.shared = shared
        self.peer = peer
        self.connection = connection
        self.context = context
        self.executor = executor
        self.deframer = GRPCMessageDeframer(limit: shared.maxRequestMessageSize)
    }

    /// A HEADERS frame of the stream: the call's headers, or the caller's trailers.
    func receiveHeaders(_ headers: HPACKHeaders, endStream: Bool) {
        let first = self.method == nil && !self.finished
        if endStream { self.callerDone = true }
        if first { self.start(headers) }
        if endStream { self.endRequest() }
    }

    /// A DATA frame of the stream.
    func receiveData(_ data: HTTP2Frame.FramePayload.Data) {
        if data.endStream { self.callerDone = true }
        if !self.finished, self.method != nil, case .byteBuffer(let bytes) = data.data {
            self.deframer.append(bytes)
            self.deliverMessages()
        }
        if data.endStream { self.endRequest() }
    }

    /// The stream has closed: by the caller (a reset), or because both sides ended it.
    func closed() {
        if !self.finished {
            // The caller reset the stream, or the connection went: whatever runs is for nobody.
            self.finished = true
            self.call?.cancellation.cancel(.cancelled)
            self.task?.cancel()
            self.source?.finish(CancellationError())
        }
        self.deadline?.cancel()
        self.deadline = nil
        self.task = nil
        self.source = nil
    }

    // MARK: - The request

    /// Reads the call's headers: which method, its metadata and deadline.
    private func start(_ headers: HPACKHeaders) {
        let request = GRPCHeaders.request(headers)
        guard request.method == "POST" else {
            return self.refuse(.unimplemented, "gRPC calls are POST requests", httpStatus: 405)
        }
        guard let contentType = request.contentType, Self.isGRPC(contentType) else {
            return self.refuse(.invalidArgument, "a gRPC call's content-type is application/grpc", httpStatus: 415)
        }
        if let encoding = request.encoding, encoding != "identity" {
            return self.refuse(.unimplemented, "grpc-encoding \(encoding) is not supported: this server accepts identity")
        }
        let path = request.path ?? ""
        guard let method = self.shared.methods[path] else {
            return self.refuse(.unimplemented, self.unknown(path))
        }
        let timeout = request.timeout.flatMap(GRPCTimeout.parse)
        let call = GRPCServerCall(
            metadata: request.metadata,
            timeout: timeout,
            peer: self.peer,
            cancellation: GRPCCallCancellation()
        )
        self.method = method
        self.call = call
        if let timeout {
            let loopBound = NIOLoopBound(self, eventLoop: self.context.eventLoop)
            self.deadline = self.context.eventLoop.scheduleTask(in: .nanoseconds(timeout.clampedNanoseconds)) {
                loopBound.value.deadlinePassed(timeout)
            }
        }
        if method.clientStreams, case .streaming(let handler) = method.handler {
            let loopBound = NIOLoopBound(self, eventLoop: self.context.eventLoop)
            let eventLoop = self.context.eventLoop
            let stream = GRPCRequestMessages.Stream.makeSequence(
                backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8),
                finishOnDeinit: true,
                delegate: GRPCReadDemand {
                    eventLoop.execute { loopBound.value.resumeReading() }
                }
            )
            self.source = stream.source
            self.run(handler, messages: .stream(stream.sequence), call: call)
        }
    }

    /// Hands the complete messages received so far to the call.
    private func deliverMessages() {
        do {
            while !self.finished, let message = try self.deframer.next() {
                if let source = self.source {
                    if case .stopProducing = source.yield(message) { self.readHeld = true }
                } else if self.single == nil {
                    self.single = message
                } else {
                    throw RPCError(code: .invalidArgument, message: "the call carried more than one request message")
                }
            }
        } catch {
            self.abort(GRPCErrorMapping.rpcError(for: error))
        }
    }

    /// The caller has sent everything: a call that waited for its request starts.
    private func endRequest() {
        guard !self.finished, let method = self.method, let call = self.call else { return }
        if self.deframer.hasPartialMessage {
            return self.abort(RPCError(code: .internalError, message: "the request ended inside a message"))
        }
        if let source = self.source {
            source.finish()
            return
        }
        guard let message = self.single else {
            return self.fail(RPCError(code: .invalidArgument, message: "the call carried no request message"))
        }
        self.single = nil
        switch method.handler {
        case .unary(let handler):
            self.run(handler, message: message, call: call)
        case .streaming(let handler):
            self.run(handler, messages: .single(message), call: call)
        }
    }

    /// Starts a unary call's handler.
    private func run(
        _ handler: @escaping @Sendable (ByteBuffer, GRPCServerCall) async throws -> (response: ByteBuffer, trailers: Metadata),
        message: ByteBuffer,
        call: GRPCServerCall
    ) {
        let loopBound = NIOLoopBound(self, eventLoop: self.context.eventLoop)
        let eventLoop = self.context.eventLoop
        self.task = Task(executorPreference: self.executor) {
            GRPCServerStream.finish(await GRPCServerStream.outcome(of: handler, message, call), on: eventLoop, loopBound)
        }
    }

    /// Starts a streaming call's handler.
    private func run(
        _ handler: @escaping @Sendable (GRPCRequestMessages, GRPCResponseWriter, GRPCServerCall) async throws -> Metadata,
        messages: GRPCRequestMessages,
        call: GRPCServerCall
    ) {
        let loopBound = NIOLoopBound(self, eventLoop: self.context.eventLoop)
        let eventLoop = self.context.eventLoop
        let writer = GRPCResponseWriter(eventLoop: eventLoop) { message, written in
            loopBound.value.writeMessage(message, promise: written)
        }
        self.task = Task(executorPreference: self.executor) {
            GRPCServerStream.finish(await GRPCServerStream.outcome(of: handler, messages, writer, call), on: eventLoop, loopBound)
        }
    }

    private func resumeReading() {
        guard self.readHeld else { return }
        self.readHeld = false
        self.connection.reopenWindow(of: self, context: self.context)
    }

    private func deadlinePassed(_ timeout: Duration) {
        self.abort(RPCError(code: .deadlineExceeded, message: "the call's deadline (\(timeout)) passed"))
    }

    /// Ends a call whose handler may be running already (a client stream's, or any past its
    /// deadline) with `error`: its task is cancelled, recorded with `error`'s code, and its
    /// request stream ends.
    private func abort(_ error: RPCError) {
        guard !self.finished else { return }
        self.call?.cancellation.cancel(GRPCErrorMapping.errorCode(error.code))
        self.task?.cancel()
        self.source?.finish(CancellationError())
        self.fail(error)
    }

    // MARK: - The response

    private enum Outcome: Sendable {
        /// The handler returned: the response message of a unary call, and the trailers.
        case answered(ByteBuffer?, Metadata)
        case failed(RPCError)
    }

    private static func outcome(
        of handler: @Sendable (ByteBuffer, GRPCServerCall) async throws -> (response: ByteBuffer, trailers: Metadata),
        _ message: ByteBuffer,
        _ call: GRPCServerCall
    ) async -> Outcome {
        do {
            let answer = try await handler(message, call)
            return .answered(answer.response, answer.trailers)
        } catch {
            return .failed(GRPCErrorMapping.rpcError(for: error))
        }
    }

    private static func outcome(
        of handler: @Sendable (GRPCRequestMessages, GRPCResponseWriter, GRPCServerCall) async throws -> Metadata,
        _ messages: GRPCRequestMessages,
        _ writer: GRPCResponseWriter,
        _ call: GRPCServerCall
    ) async -> Outcome {
        do {
            return .answered(nil, try await handler(messages, writer, call))
        } catch {
            return .failed(GRPCErrorMapping.rpcError(for: error))
        }
    }

    private func writeMessage(_ message: ByteBuffer, promise: EventLoopPromise<Void>) {
        guard !self.finished else {
            promise.fail(CancellationError())
            return
        }
        self.sendHeadersIfNeeded()
        self.write(.data(.init(data: .byteBuffer(message))), promise: promise)
        self.context.flush()
    }

    private func finish(_ outcome: Outcome) {
        self.task = nil
        guard !self.finished else { return }
        switch outcome {
        case .answered(let response, let trailers):
            self.sendHeadersIfNeeded()
            if let response {
                self.write(.data(.init(data: .byteBuffer(response))))
            }
            self.end(GRPCHeaders.trailers(code: .ok, message: "", metadata: trailers, trailersOnly: false))
        case .failed(let error):
            self.fail(error)
        }
    }

    /// Ends the call with `error`'s status (and metadata).
    private func fail(_ error: RPCError) {
        guard !self.finished else { return }
        let code = Status.Code(rawValue: error.code.rawValue) ?? .unknown
        self.end(
            GRPCHeaders.trailers(code: code, message: error.message, metadata: error.metadata, trailersOnly: !self.headersSent)
        )
    }

    /// Answers a call that is not served at all, before anything else was sent.
    private func refuse(_ code: Status.Code, _ message: String, httpStatus: Int = 200) {
        self.end(
            GRPCHeaders.trailers(code: code, message: message, metadata: [:], trailersOnly: true, httpStatus: httpStatus)
        )
    }

    private func sendHeadersIfNeeded() {
        guard !self.headersSent else { return }
        self.headersSent = true
        self.write(.headers(.init(headers: GRPCHeaders.response)))
    }

    /// Writes the trailers; a caller still sending is told to stop (`RST_STREAM` `NO_ERROR`,
    /// as HTTP/2 allows once the response is complete).
    private func end(_ trailers: HPACKHeaders) {
        self.finished = true
        self.headersSent = true
        self.deadline?.cancel()
        self.deadline = nil
        self.write(.headers(.init(headers: trailers, endStream: true)))
        if !self.callerDone { self.write(.rstStream(.noError)) }
        self.context.flush()
    }

    private func write(_ payload: HTTP2Frame.FramePayload, promise: EventLoopPromise<Void>? = nil) {
        self.context.write(NIOAny(HTTP2Frame(streamID: self.id, payload: payload)), promise: promise)
    }

    // MARK: - Helpers

    /// `application/grpc`, alone or followed by `+format` or `;parameters`.
    private static func isGRPC(_ contentType: String) -> Bool {
        guard contentType.hasPrefix("application/grpc") else { return false }
        let rest = contentType.utf8.dropFirst("application/grpc".utf8.count)
        return rest.first.map { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: ";") } ?? true
    }

    /// The status message for a path this server does not serve, in grpc-go's words.
    private func unknown(_ path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        guard parts.count == 2 else { return "malformed method name: \(path)" }
        return self.shared.services.contains(String(parts[0]))
            ? "unknown method \(parts[1]) for service \(parts[0])"
            : "unknown service \(parts[0])"
    }

    /// Finishes the call with `outcome` on its event loop: inline when the task is on it already
    /// (the usual case), which spares a closure per call.
    private static func finish(
        _ outcome: Outcome,
        on eventLoop: any EventLoop,
        _ loopBound: NIOLoopBound<GRPCServerStream>
    ) {
        if eventLoop.inEventLoop {
            loopBound.value.finish(outcome)
        } else {
            eventLoop.execute { loopBound.value.finish(outcome) }
        }
    }
}
