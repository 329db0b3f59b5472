import Kite
import KiteTelemetry
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// A client of the NATS protocol on SwiftNIO: publish, subscribe (with queue groups), request
/// and reply — what Kite's NATS transport is built on.
///
/// ```swift
/// let nats = try NATSClient(configuration: .init(servers: ["nats://127.0.0.1:4222"]), telemetry: telemetry)
/// let sum: Endpoint<SumRequest, SumResponse> = nats.endpoint("addsvc.sum")
/// try await ServiceGroup(services: [telemetry, nats, server], logger: telemetry.logger).run()
/// ```
///
/// ``run()`` keeps a connection: it connects to the configured servers in turn and, when the
/// connection is lost (or stale: ``Configuration/maxOutstandingPings`` pings unanswered), connects
/// again with a jittered exponential backoff, subscribes again to every subscription, and sends
/// what was published meanwhile (held up to ``Configuration/reconnectBufferSize``; past it a
/// publish fails and is counted as dropped). Outgoing operations are written into one buffer
/// and flushed once per event-loop turn, so the writes of many concurrent calls leave together.
///
/// Requests share one wildcard inbox subscription (`_INBOX.<random>.*`); each waits for its own
/// reply subject. The client asks the server for headers and for "no responders" answers: a
/// request nobody subscribes to fails at once with ``NATSError/noResponders(subject:)`` instead
/// of waiting for its timeout. A message larger than the server's `max_payload` is refused with
/// ``NATSError/payloadTooLarge(size:maxPayload:)`` before it is sent (the server would close
/// the connection). TLS is not supported.
///
/// Run it in the service group before the servers that use it: the group shuts down in reverse
/// order, so the client flushes and closes after their last replies.
public final class NATSClient: Service, Sendable {
    /// The configuration.
    public let configuration: Configuration
    let addresses: [NATSServerAddress]
    let eventLoop: any EventLoop
    let metrics: NATSClientMetrics
    let instrumentation: NATSClientInstrumentation
    let logger: Logger
    /// `_INBOX.<random>.`: the prefix of this client's reply subjects.
    let inbox: String
    private let state = Mutex(State())

    /// Creates a client; it connects when ``run()`` starts. Publishing before that is buffered.
    /// - Throws: ``NATSError/invalidURL(_:)`` for a server address that cannot be used, or none.
    public init(configuration: Configuration, telemetry: Telemetry) throws {
        guard !configuration.servers.isEmpty else { throw NATSError.invalidURL("") }
        self.addresses = try configuration.servers.map { url throws(NATSError) in try NATSServerAddress(url) }
        guard NATSSubject.isValidPublish(configuration.inboxPrefix) else {
            throw NATSError.invalidSubject(configuration.inboxPrefix)
        }
        self.configuration = configuration
        self.eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        self.metrics = NATSClientMetrics(registry: telemetry.registry)
        self.instrumentation = NATSClientInstrumentation(telemetry: telemetry)
        self.logger = telemetry.makeLogger(label: "kite.nats")
        self.inbox = configuration.inboxPrefix + "." + Self.randomToken() + "."
    }

    /// What the server said about itself last, once connected.
    public var serverInfo: NATSServerInfo? {
        self.state.withLock { $0.info }
    }

    /// Whether a connection is up now.
    public var isConnected: Bool {
        self.state.withLock { $0.channel != nil }
    }

    // MARK: Running

    /// Keeps a connection until graceful shutdown (or cancellation), then flushes what is
    /// buffered and closes.
    public func run() async throws {
        try self.state.withLock { state throws(NATSError) in
            guard state.phase == .idle else { throw NATSError.closed }
            state.phase = .running
        }
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await self.maintainConnection()
            } onGracefulShutdown: {
                self.close()
            }
        } onCancel: {
            self.close()
        }
    }

    /// Closes the client (for use outside a service group): flushes what is buffered, closes the
    /// connection, fails the requests still waiting with ``NATSError/closed`` and ends every
    /// subscription. Later operations fail with ``NATSError/closed``.
    public func close() {
        let closing = self.state.withLock { state -> State.Closing? in
            guard state.phase == .idle || state.phase == .running else { return nil }
            return state.beginClosing()
        }
        guard let closing else { return }
        for request in closing.requests { request.continuation.resume(throwing: NATSError.closed) }
        for subscriber in closing.subscribers { subscriber.finish() }
        for waiter in closing.pongWaiters { waiter.resume(throwing: NATSError.closed) }
        for waiter in closing.connectionWaiters { waiter.resume(throwing: NATSError.closed) }
        closing.sleeper?.resume()
        if let channel = closing.channel {
            // What is buffered (the last replies of a draining server) leaves before the close.
            let outbox = closing.outbox
            channel.eventLoop.execute {
                channel.writeAndFlush(outbox).whenComplete { _ in channel.close(promise: nil) }
            }
        }
    }

    private func maintainConnection() async {
        var failures = 0
        var next = 0
        var everConnected = false
        while self.isRunning {
            let address = self.addresses[next % self.addresses.count]
            next += 1
            do {
                let (channel, info) = try await self.connect(to: address)
                guard self.attach(channel, info: info, isReconnect: everConnected) else {
                    channel.close(promise: nil)
                    break
                }
                failures = 0
                self.logger.info(
                    everConnected ? "nats: reconnected" : "nats: connected",
                    metadata: ["server": "\(address)", "server_id": "\(info.serverID)", "max_payload": "\(info.maxPayload)"]
                )
                everConnected = true
                let interval = TimeAmount.nanoseconds(self.configuration.pingInterval.clampedNanoseconds)
                let pinger = channel.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
                    self.keepAlive(channel)
                }
                try? await channel.closeFuture.get()
                pinger.cancel()
                self.detach(channel)
                self.metrics.connections.decrement()
                if self.isRunning { self.logger.warning("nats: connection lost", metadata: ["server": "\(address)"]) }
            } catch {
                failures += 1
                self.metrics.connectFailures.increment()
                // The first failure of an outage and every 30th after it are warnings; the
                // rest (every attempt, up to one per `maxReconnectWait`) debug lines.
                self.logger.log(
                    level: failures % 30 == 1 ? .warning : .debug,
                    "nats: could not connect",
                    metadata: ["server": "\(address)", "error": "\(error)", "attempt": "\(failures)"]
                )
            }
            if failures > 0 && self.isRunning {
                await self.sleep(for: self.backoff(failures: failures))
            }
        }
        self.state.withLock { $0.phase = .closed }
    }

    private var isRunning: Bool {
        self.state.withLock { $0.phase == .running }
    }

    /// `reconnectWait` doubled per failure up to `maxReconnectWait`, then a random half to whole of it.
    private func backoff(failures: Int) -> Duration {
        let base = self.configuration.reconnectWait * (1 << min(failures - 1, 20))
        let capped = min(base, self.configuration.maxReconnectWait)
        return capped * Double.random(in: 0.5...1.0)
    }

    /// Sleeps for `duration`, or until the client closes.
    private func sleep(for duration: Duration) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let generation = self.state.withLock { state -> Int? in
                guard state.phase == .running else { return nil }
                state.sleepGeneration += 1
                state.sleeper = continuation
                return state.sleepGeneration
            }
            guard let generation else {
                continuation.resume()
                return
            }
            self.eventLoop.scheduleTask(in: .nanoseconds(duration.clampedNanoseconds)) {
                let sleeper = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
                    guard state.sleepGeneration == generation else { return nil }
                    defer { state.sleeper = nil }
                    return state.sleeper
                }
                sleeper?.resume()
            }
        }
    }

    /// Connects to `address` and completes the handshake: `INFO`, then `CONNECT` and `PING`
    /// answered by `PONG` (an `-ERR` instead, such as an authorization violation, fails it).
    private func connect(to address: NATSServerAddress) async throws -> (any Channel, NATSServerInfo) {
        let handshake = self.eventLoop.makePromise(of: NATSServerInfo.self)
        let configuration = self.configuration
        let connect: @Sendable (NATSServerInfo) throws -> ByteBuffer = { info in
            try NATSConnectCommand(address: address, configuration: configuration, info: info).encoded()
        }
        let timeout = TimeAmount.nanoseconds(configuration.connectTimeout.clampedNanoseconds)
        // The promise is completed on every path: by the handler, or here when no connection was made.
        defer { handshake.fail(NATSError.notConnected) }
        let channel = try await ClientBootstrap(group: self.eventLoop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let operations = channel.pipeline.syncOperations
                    try operations.addHandler(
                        ByteToMessageHandler(
                            NATSOperationDecoder(maxMessageSize: configuration.maxIncomingMessageSize),
                            maximumBufferSize: configuration.maxIncomingMessageSize + 64 * 1024
                        )
                    )
                    try operations.addHandler(
                        NATSConnectionHandler(client: self, handshake: handshake, handshakeTimeout: timeout, connectCommand: connect)
                    )
                }
            }
            .connect(host: address.host, port: address.port)
            .get()
        do {
            return (channel, try await handshake.futureResult.get())
        } catch {
            channel.close(promise: nil)
            throw error
        }
    }

    /// Makes `channel` the connection: subscribes again, then sends what was buffered. The
    /// connection is counted before anyone can see it, so that a caller of
    /// ``waitUntilConnected()`` or ``isConnected`` reads metrics that include it.
    /// - Returns: `false` when the client closed meanwhile.
    private func attach(_ channel: any Channel, info: NATSServerInfo, isReconnect: Bool) -> Bool {
        let attached = self.state.withLock { state -> ((any Channel)?, [CheckedContinuation<Void, any Error>])? in
            guard state.phase == .running else { return nil }
            // Counted (two atomic adds) before the connection is visible to anyone.
            self.metrics.connections.increment()
            if isReconnect { self.metrics.reconnects.increment() }
            state.channel = channel
            state.info = info
            var outgoing = channel.allocator.buffer(capacity: state.outbox.readableBytes + 64 * state.subscriptions.count)
            for (sid, subscriber) in state.subscriptions.sorted(by: { $0.key < $1.key }) where !subscriber.draining {
                outgoing.writeNATSSubscribe(subject: subscriber.subject, queue: subscriber.queue, sid: sid)
                if let remaining = subscriber.remaining { outgoing.writeNATSUnsubscribe(sid: sid, after: remaining) }
            }
            outgoing.writeImmutableBuffer(state.outbox)
            state.outbox = outgoing
            let waiters = Array(state.connectionWaiters.values)
            state.connectionWaiters = [:]
            return (state.flushTarget(), waiters)
        }
        guard let (flush, waiters) = attached else { return false }
        for waiter in waiters { waiter.resume() }
        if let flush { self.scheduleFlush(flush) }
        return true
    }

    /// Forgets the connection that closed; what was not yet written stays buffered for the next.
    private func detach(_ channel: any Channel) {
        let waiters = self.state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            guard state.channel === channel else { return [] }
            state.channel = nil
            state.flushScheduled = false
            let waiters = state.pongWaiters.compactMap { $0?.continuation }
            state.pongWaiters = []
            return waiters
        }
        for waiter in waiters { waiter.resume(throwing: NATSError.notConnected) }
    }

    /// A `PING`, or the connection closed when too many are unanswered.
    private func keepAlive(_ channel: any Channel) {
        let action = self.state.withLock { state -> (stale: Bool, flush: (any Channel)?) in
            guard state.channel === channel else { return (false, nil) }
            guard state.pongWaiters.count < self.configuration.maxOutstandingPings else { return (true, nil) }
            state.pongWaiters.append(nil)
            state.outbox.writeStaticString("PING\r\n")
            return (false, state.flushTarget())
        }
        if action.stale {
            self.logger.warning("nats: connection stale (pings unanswered); connecting again")
            channel.close(promise: nil)
        } else if let flush = action.flush {
            self.scheduleFlush(flush)
        }
    }

    // MARK: Writing

    /// Runs `write` on the state under the lock (it writes into the outbox), then schedules a
    /// flush. What `write` changed before it threw stays: each write undoes its own part.
    func send(_ write: (inout State) throws(NATSError) -> Void) throws(NATSError) {
        let flush = try self.state.withLock { state throws(NATSError) -> (any Channel)? in
            guard state.phase == .idle || state.phase == .running else { throw .closed }
            try write(&state)
            return state.flushTarget()
        }
        if let flush { self.scheduleFlush(flush) }
    }

    private func scheduleFlush(_ channel: any Channel) {
        channel.eventLoop.execute { self.flushOutbox(on: channel) }
    }

    /// Hands the outbox to `channel` (on its event loop), unless the socket cannot take more now
    /// (the handler calls again when it can).
    func flushOutbox(on channel: any Channel) {
        let bytes = self.state.withLock { state -> ByteBuffer? in
            state.flushScheduled = false
            guard state.channel === channel, channel.isWritable, state.outbox.readableBytes > 0 else { return nil }
            defer { state.outbox = channel.allocator.buffer(capacity: 0) }
            return state.outbox
        }
        if let bytes { channel.writeAndFlush(bytes, promise: nil) }
    }

    // MARK: Publishing

    /// Publishes `payload` (with `headers`) to `subject`, asking for answers on `replyTo`.
    ///
    /// It returns once the message is in the outgoing buffer; it leaves on the next turn of the
    /// event loop, or once connected.
    /// - Throws: ``NATSError/invalidSubject(_:)``, ``NATSError/invalidHeader(name:)``,
    ///   ``NATSError/payloadTooLarge(size:maxPayload:)``, ``NATSError/reconnectBufferFull(limit:)``
    ///   (counted as dropped), ``NATSError/closed``.
    public func publish(
        _ payload: ByteBuffer,
        to subject: String,
        replyTo: String? = nil,
        headers: NATSHeaders? = nil
    ) throws(NATSError) {
        guard NATSSubject.isValidPublish(subject) else { throw .invalidSubject(subject) }
        if let replyTo, !NATSSubject.isValidPublish(replyTo) { throw .invalidSubject(replyTo) }
        do {
            try self.send { state throws(NATSError) in
                try state.writePublish(subject: subject, replyTo: replyTo, headers: headers, payload: payload, limit: self.configuration.reconnectBufferSize)
            }
        } catch .reconnectBufferFull(let limit) {
            self.metrics.bufferFull.increment()
            throw .reconnectBufferFull(limit: limit)
        }
    }

    /// Waits until the server has processed everything sent before (a `PING` answered by
    /// `PONG`).
    /// - Throws: ``NATSError/notConnected`` (no connection now, or it was lost meanwhile),
    ///   ``NATSError/timedOut(subject:after:)`` after `timeout`, ``NATSError/closed``.
    public func flush(timeout: Duration = .seconds(5)) async throws {
        let id = self.state.withLock { state in
            state.nextWaiterID &+= 1
            return state.nextWaiterID
        }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            do {
                try self.send { state throws(NATSError) in
                    guard state.channel != nil else { throw .notConnected }
                    state.pongWaiters.append(State.PongWaiter(id: id, continuation: continuation))
                    state.outbox.writeStaticString("PING\r\n")
                }
            } catch {
                continuation.resume(throwing: error)
                return
            }
            self.eventLoop.scheduleTask(in: .nanoseconds(timeout.clampedNanoseconds)) {
                let waiter = self.state.withLock { state -> CheckedContinuation<Void, any Error>? in
                    guard let index = state.pongWaiters.firstIndex(where: { $0?.id == id }) else { return nil }
                    defer { state.pongWaiters[index] = nil }
                    return state.pongWaiters[index]?.continuation
                }
                waiter?.resume(throwing: NATSError.timedOut(subject: "PING", after: timeout))
            }
        }
    }

    /// Waits until a connection is up (at once when one is).
    /// - Throws: ``NATSError/closed``, or `CancellationError`.
    public func waitUntilConnected() async throws {
        let id = self.state.withLock { state in
            state.nextWaiterID &+= 1
            return state.nextWaiterID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let immediate = self.state.withLock { state -> Result<Void, any Error>? in
                    guard state.phase == .idle || state.phase == .running else { return .failure(NATSError.closed) }
                    if state.channel != nil { return .success(()) }
                    state.connectionWaiters[id] = continuation
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) }
                if Task.isCancelled { self.cancelConnectionWaiter(id) }
            }
        } onCancel: {
            self.cancelConnectionWaiter(id)
        }
    }

    private func cancelConnectionWaiter(_ id: UInt64) {
        let waiter = self.state.withLock { $0.connectionWaiters.removeValue(forKey: id) }
        waiter?.resume(throwing: CancellationError())
    }

    // MARK: Subscribing

    /// Subscribes to `subject` (wildcards allowed), sharing its messages with the other members
    /// of `queue` when given. The messages arrive in the returned sequence; ending its iteration
    /// (or ``NATSSubscription/unsubscribe()``) unsubscribes.
    /// - Throws: ``NATSError/invalidSubject(_:)``, ``NATSError/closed``.
    public func subscribe(to subject: String, queue: String? = nil) throws(NATSError) -> NATSSubscription {
        guard NATSSubject.isValidFilter(subject) else { throw .invalidSubject(subject) }
        if let queue, !NATSSubject.isValidQueue(queue) { throw .invalidSubject(queue) }
        let (stream, continuation) = AsyncStream.makeStream(
            of: NATSMessage.self,
            bufferingPolicy: .bufferingOldest(self.configuration.subscriptionBufferSize)
        )
        let subscriber = State.Subscriber(
            subject: subject,
            queue: queue,
            kind: .stream(continuation),
            consumed: self.metrics.consumed(subject: subject)
        )
        let sid = try self.state.withLock { state throws(NATSError) -> Int in
            guard state.phase == .idle || state.phase == .running else { throw .closed }
            return state.add(subscriber)
        }
        self.flushIfNeeded()
        continuation.onTermination = { [weak self] _ in self?.unsubscribe(sid: sid) }
        return NATSSubscription(subject: subject, queue: queue, sid: sid, messages: stream, client: self)
    }

    /// Stops the subscription `sid` now, or once `max` messages in all have arrived.
    func unsubscribe(sid: Int, after max: Int? = nil) {
        let finished = self.state.withLock { state -> State.Subscriber? in
            guard var subscriber = state.subscriptions[sid] else { return nil }
            if let max, max > subscriber.delivered {
                subscriber.remaining = max - subscriber.delivered
                state.subscriptions[sid] = subscriber
                state.writeIfConnected { $0.writeNATSUnsubscribe(sid: sid, after: max) }
                return nil
            }
            state.subscriptions[sid] = nil
            state.writeIfConnected { $0.writeNATSUnsubscribe(sid: sid) }
            return subscriber
        }
        finished?.finish()
        self.flushIfNeeded()
    }

    /// Unsubscribes `sid` and ends its sequence once the messages the server sent before it
    /// processed the unsubscription have arrived: none is lost, none comes after.
    func drain(sid: Int, timeout: Duration) async {
        let draining = self.state.withLock { state -> Bool in
            guard state.subscriptions[sid] != nil else { return false }
            state.subscriptions[sid]?.draining = true
            state.writeIfConnected { $0.writeNATSUnsubscribe(sid: sid) }
            return true
        }
        guard draining else { return }
        self.flushIfNeeded()
        try? await self.flush(timeout: timeout)
        let finished = self.state.withLock { $0.subscriptions.removeValue(forKey: sid) }
        finished?.finish()
    }

    private func flushIfNeeded() {
        if let flush = self.state.withLock({ $0.flushTarget() }) { self.scheduleFlush(flush) }
    }

    // MARK: Requests

    /// Publishes a request to `subject` and waits for the first reply.
    /// - Parameter timeout: How long to wait. Default ``Configuration/requestTimeout``.
    /// - Throws: ``NATSError/noResponders(subject:)`` at once when nobody subscribes,
    ///   ``NATSError/timedOut(subject:after:)``, what ``publish(_:to:replyTo:headers:)`` throws,
    ///   `CancellationError` when the calling task is cancelled.
    public func request(
        _ payload: ByteBuffer,
        to subject: String,
        headers: NATSHeaders? = nil,
        timeout: Duration? = nil
    ) async throws -> NATSMessage {
        guard NATSSubject.isValidPublish(subject) else { throw NATSError.invalidSubject(subject) }
        let timeout = timeout ?? self.configuration.requestTimeout
        let id = self.state.withLock { state in
            state.nextRequestID &+= 1
            return state.nextRequestID
        }
        let replyTo = self.inbox + String(id, radix: 36)
        let reply = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<NATSMessage, any Error>) in
                let deadline = NIODeadline.now() + .nanoseconds(timeout.clampedNanoseconds)
                var sweep = false
                do throws(NATSError) {
                    try self.send { state throws(NATSError) in
                        state.subscribeInboxIfNeeded(self.inbox, consumed: self.metrics.consumed(subject: self.configuration.inboxPrefix))
                        try state.writePublish(
                            subject: subject,
                            replyTo: replyTo,
                            headers: headers,
                            payload: payload,
                            limit: self.configuration.reconnectBufferSize
                        )
                        state.requests[id] = State.PendingRequest(continuation: continuation, subject: subject, timeout: timeout, deadline: deadline)
                        sweep = state.sweepNeeded(by: deadline)
                    }
                } catch {
                    if case .reconnectBufferFull = error { self.metrics.bufferFull.increment() }
                    continuation.resume(throwing: error)
                    return
                }
                if sweep { self.eventLoop.scheduleTask(deadline: deadline) { self.sweepRequests() } }
                if Task.isCancelled { self.finishRequest(id, with: .failure(CancellationError())) }
            }
        } onCancel: {
            self.finishRequest(id, with: .failure(CancellationError()))
        }
        if reply.isNoResponders { throw NATSError.noResponders(subject: subject) }
        return reply
    }

    private func finishRequest(_ id: UInt64, with result: Result<NATSMessage, any Error>) {
        self.state.withLock { $0.requests.removeValue(forKey: id) }?.continuation.resume(with: result)
    }

    /// Fails the requests whose deadline has passed, and schedules the next sweep for the
    /// earliest deadline left. One timer serves every request: a request schedules one only
    /// when its deadline comes before the next sweep (with one timeout for all, only the first).
    private func sweepRequests() {
        let (expired, next) = self.state.withLock { $0.removeExpiredRequests(now: .now()) }
        for request in expired {
            request.continuation.resume(throwing: NATSError.timedOut(subject: request.subject, after: request.timeout))
        }
        if let next { self.eventLoop.scheduleTask(deadline: next) { self.sweepRequests() } }
    }

    // MARK: Reading

    /// An operation from the connection `channel`, after its handshake.
    func received(_ operation: NATSServerOperation, on channel: any Channel) {
        switch operation {
        case .message(let sid, let message):
            self.deliver(message, to: sid)
        case .pong:
            let waiter = self.state.withLock { state -> CheckedContinuation<Void, any Error>? in
                guard state.channel === channel, !state.pongWaiters.isEmpty else { return nil }
                return state.pongWaiters.removeFirst()?.continuation
            }
            waiter?.resume()
        case .info(let info):
            self.state.withLock { $0.info = info }
            if info.lameDuckMode { self.logger.info("nats: server entering lame duck mode", metadata: ["server_id": "\(info.serverID)"]) }
        case .error(let message):
            self.metrics.serverErrors.increment()
            self.logger.warning("nats: server error", metadata: ["error": "\(message)"])
        case .ping, .ok:
            break
        }
    }

    private func deliver(_ message: NATSMessage, to sid: Int) {
        let target = self.state.withLock { state in state.route(message, to: sid, inbox: self.inbox) }
        switch target {
        case .none:
            break
        case .reply(let request):
            request.continuation.resume(returning: message)
        case .lateReply:
            self.metrics.lateReplies.increment()
        case .stream(let continuation, let consumed, let last):
            consumed.increment()
            if case .dropped = continuation.yield(message) { self.metrics.slowConsumer.increment() }
            if last { continuation.finish() }
        }
    }

    /// 22 random base-62 characters (about 131 bits), as NATS's NUIDs.
    private static func randomToken() -> String {
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
        var generator = SystemRandomNumberGenerator()
        return String(decoding: (0..<22).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] }, as: UTF8.self)
    }
}
