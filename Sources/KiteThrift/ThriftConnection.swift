import Kite
import KiteTelemetry
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// A connection to a Thrift server whose methods are called as Kite endpoints — go-kit's Thrift
/// client transport.
///
/// ```swift
/// let thrift = ThriftConnection(configuration: .init(host: "127.0.0.1", port: 8083, serviceName: "AddService"), telemetry: telemetry)
/// let sum: Endpoint<SumArguments, SumReply> = thrift.endpoint("Sum")
/// ```
///
/// One TCP connection, made on the first call and again after it is lost; calls made at once
/// share it, each with its own sequence id, and each reply is matched to its call by that id (a
/// server that answers one call at a time just answers them in turn). Each call carries the
/// caller's trace context and the time left before its deadline in Kite's context field
/// (``ThriftCallCoding``), ignored by servers that are not Kite's. A call that gets no reply in
/// time fails `DEADLINE_EXCEEDED`, one whose connection fails `UNAVAILABLE` (``RemoteError``s);
/// a `TApplicationException` comes back as a ``RemoteError`` with Kite's code when the server is
/// Kite's; a declared exception as itself.
public final class ThriftConnection: Service, Sendable {
    /// Where to connect and how to speak.
    public struct Configuration: Sendable {
        /// The server's host: a name or an IP address.
        public var host: String
        /// The server's port.
        public var port: Int
        /// The service's name, for spans and metrics (`AddService`).
        public var serviceName: String
        /// The protocol. Default compact.
        public var `protocol`: ThriftProtocol
        /// The transport. Default framed.
        public var transport: ThriftTransport
        /// What is accepted from the wire.
        public var limits: ThriftLimits
        /// How long connecting may take. Default 2 s.
        public var connectTimeout: Duration

        public init(
            host: String,
            port: Int,
            serviceName: String,
            protocol: ThriftProtocol = .compact,
            transport: ThriftTransport = .framed,
            limits: ThriftLimits = ThriftLimits(),
            connectTimeout: Duration = .seconds(2)
        ) {
            self.host = host
            self.port = port
            self.serviceName = serviceName
            self.protocol = `protocol`
            self.transport = transport
            self.limits = limits
            self.connectTimeout = connectTimeout
        }
    }

    private struct Pending {
        let continuation: CheckedContinuation<ByteBuffer, any Error>
        var timer: Scheduled<Void>?
    }

    private struct State {
        var channel: EventLoopFuture<any Channel>?
        var pending: [Int32: Pending] = [:]
        var nextSequenceID: Int32 = 0
        var closed = false
    }

    /// The configuration.
    public let configuration: Configuration
    let instrumentation: ThriftClientInstrumentation
    private let eventLoop: any EventLoop
    private let state = Mutex(State())

    /// Creates a connection; it connects on the first call.
    public init(configuration: Configuration, telemetry: Telemetry) {
        self.configuration = configuration
        self.instrumentation = ThriftClientInstrumentation(
            telemetry: telemetry,
            service: configuration.serviceName,
            serverAddress: configuration.host,
            serverPort: configuration.port
        )
        self.eventLoop = MultiThreadedEventLoopGroup.singleton.next()
    }

    /// Waits for graceful shutdown, then closes the connection.
    public func run() async throws {
        try? await gracefulShutdown()
        self.close()
    }

    /// Closes the connection; calls waiting fail, later calls fail with `UNAVAILABLE`.
    public func close() {
        let (channel, pending) = self.state.withLock { state in
            state.closed = true
            defer {
                state.channel = nil
                state.pending = [:]
            }
            return (state.channel, state.pending)
        }
        for call in pending.values {
            call.timer?.cancel()
            call.continuation.resume(throwing: RemoteError(code: .unavailable, message: "the Thrift connection was closed"))
        }
        channel?.whenSuccess { $0.close(promise: nil) }
    }

    /// The method `method` as an endpoint: the request is its arguments struct, the response its
    /// result; `exceptions` are the exceptions it declares.
    public func endpoint<Request: Encodable & Sendable, Response: Decodable & Sendable>(
        _ method: String,
        as response: Response.Type = Response.self,
        exceptions: ThriftExceptions = .none,
        options: ThriftCallOptions = .init()
    ) -> Endpoint<Request, Response> {
        let instruments = self.instrumentation.method(method)
        let configuration = self.configuration
        return Endpoint { request in
            try await self.instrumentation.call(instruments, timeout: options.timeout) { context, timeout in
                let reply = try await self.exchange(timeout: timeout) { sequenceID in
                    try ThriftCallCoding.call(
                        request,
                        header: ThriftMessageHeader(name: method, type: .call, sequenceID: sequenceID),
                        protocol: configuration.protocol,
                        context: context
                    )
                }
                var reader = ThriftReader(protocol: configuration.protocol, limits: configuration.limits, buffer: reply)
                let header = try reader.readMessageBegin()
                guard header.name == method else {
                    throw ThriftApplicationError(.wrongMethodName, "a reply for \(header.name) to a call of \(method)")
                }
                do {
                    return try ThriftCallCoding.response(Response.self, header: header, reader: reader, exceptions: exceptions)
                } catch let error as ThriftApplicationError {
                    throw options.decodeError(error.remoteError)
                } catch let error as DecodingError {
                    throw ThriftProtocolError("the reply could not be decoded: \(ThriftCallCoding.describe(error))")
                }
            }
        }
    }

    /// Sends the message `make` builds for a new sequence id and waits for the reply with that id.
    private func exchange(timeout: Duration, _ make: (Int32) throws -> ByteBuffer) async throws -> ByteBuffer {
        let channel = try await self.connection()
        let sequenceID = self.state.withLock { state in
            state.nextSequenceID = state.nextSequenceID == .max ? 1 : state.nextSequenceID + 1
            return state.nextSequenceID
        }
        let message = ThriftFrameDecoder.frame(try make(sequenceID), transport: self.configuration.transport)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ByteBuffer, any Error>) in
                let registered = self.state.withLock { state -> Bool in
                    guard !state.closed else { return false }
                    state.pending[sequenceID] = Pending(continuation: continuation)
                    return true
                }
                guard registered else {
                    continuation.resume(throwing: RemoteError(code: .unavailable, message: "the Thrift connection was closed"))
                    return
                }
                channel.writeAndFlush(message).whenFailure { error in
                    self.finish(sequenceID, with: .failure(RemoteError(code: .unavailable, message: "\(error)")))
                }
                let timer = channel.eventLoop.scheduleTask(in: .nanoseconds(timeout.clampedNanoseconds)) {
                    self.finish(sequenceID, with: .failure(RemoteError(code: .deadlineExceeded, message: "no Thrift reply within \(timeout)")))
                }
                let answered = self.state.withLock { state -> Bool in
                    guard state.pending[sequenceID] != nil else { return true }
                    state.pending[sequenceID]?.timer = timer
                    return false
                }
                if answered { timer.cancel() }
                if Task.isCancelled { self.finish(sequenceID, with: .failure(CancellationError())) }
            }
        } onCancel: {
            self.finish(sequenceID, with: .failure(CancellationError()))
        }
    }

    private func finish(_ sequenceID: Int32, with result: Result<ByteBuffer, any Error>) {
        guard let call = self.state.withLock({ $0.pending.removeValue(forKey: sequenceID) }) else { return }
        call.timer?.cancel()
        call.continuation.resume(with: result)
    }

    /// A reply from the connection.
    func received(_ message: ByteBuffer) {
        var reader = ThriftReader(protocol: self.configuration.protocol, limits: self.configuration.limits, buffer: message)
        guard let header = try? reader.readMessageBegin() else { return }
        self.finish(header.sequenceID, with: .success(message))
    }

    /// The connection closed: every call waiting on it fails.
    func disconnected(_ channel: any Channel) {
        let pending = self.state.withLock { state -> [Pending] in
            state.channel = nil
            defer { state.pending = [:] }
            return Array(state.pending.values)
        }
        for call in pending {
            call.timer?.cancel()
            call.continuation.resume(throwing: RemoteError(code: .unavailable, message: "the Thrift connection closed before the reply"))
        }
    }

    /// The connection, made now if there is none.
    private func connection() async throws -> any Channel {
        let future = try self.state.withLock { state throws -> EventLoopFuture<any Channel> in
            guard !state.closed else { throw RemoteError(code: .unavailable, message: "the Thrift connection was closed") }
            if let channel = state.channel { return channel }
            let channel = self.connect()
            state.channel = channel
            return channel
        }
        do {
            return try await future.get()
        } catch {
            self.state.withLock { state in
                if state.channel === future { state.channel = nil }
            }
            throw RemoteError(code: .unavailable, message: "cannot connect to \(self.configuration.host):\(self.configuration.port): \(error)")
        }
    }

    private func connect() -> EventLoopFuture<any Channel> {
        let configuration = self.configuration
        return ClientBootstrap(group: self.eventLoop)
            .connectTimeout(.nanoseconds(configuration.connectTimeout.clampedNanoseconds))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let operations = channel.pipeline.syncOperations
                    try operations.addHandler(
                        ByteToMessageHandler(
                            ThriftFrameDecoder(transport: configuration.transport, protocol: configuration.protocol, limits: configuration.limits),
                            maximumBufferSize: configuration.limits.maxMessageSize + 4
                        )
                    )
                    try operations.addHandler(ThriftClientHandler(connection: self))
                }
            }
            .connect(host: configuration.host, port: configuration.port)
    }
}
