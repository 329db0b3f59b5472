import KiteTelemetry
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// A ZooKeeper client on SwiftNIO, speaking ZooKeeper's wire protocol: the session handshake, pings
/// within the session timeout, `create` (persistent, ephemeral, sequential), `delete`, `exists`,
/// `getChildren` and `getData` with watches.
///
/// Run it in the `ServiceGroup`: it connects to one of the servers, keeps the session alive, and
/// when the connection drops reconnects to the servers in turn with the same session — its
/// ephemeral nodes and watches survive (watches are set again with `SetWatches`). If the server
/// says the session expired, the client starts a new one: watches end with
/// ``ZooKeeperError/sessionExpired`` and ``waitForSessionExpiry(after:)`` returns, so that ephemeral
/// nodes can be made again. On graceful shutdown it closes the session, which deletes its ephemeral
/// nodes at once.
///
/// A request made while the connection is down fails with ``ZooKeeperError/connectionLoss``.
public final class ZooKeeperClient: Service {
    /// How a node is created.
    public enum CreateMode: Int32, Sendable {
        case persistent = 0
        case ephemeral = 1
        case persistentSequential = 2
        case ephemeralSequential = 3
    }

    enum Op {
        static let create: Int32 = 1
        static let delete: Int32 = 2
        static let exists: Int32 = 3
        static let getData: Int32 = 4
        static let getChildren: Int32 = 8
        static let ping: Int32 = 11
        static let setWatches: Int32 = 101
        static let closeSession: Int32 = -11
    }

    enum Xid {
        static let notification: Int32 = -1
        static let ping: Int32 = -2
        static let setWatches: Int32 = -8
        /// Kite's own choice for the close request, out of the range of ordinary requests.
        static let closeSession: Int32 = -100
    }

    /// Which kind of read set a watch.
    enum WatchKind: Hashable { case data, exist, child }

    struct WatchKey: Hashable {
        var kind: WatchKind
        var path: String
    }

    private struct State {
        /// The frames to send on the live connection; `nil` while disconnected.
        var outbound: AsyncStream<ByteBuffer>.Continuation?
        /// Requests awaiting their reply, with the path each names (for its error).
        var pending: [Int32: (continuation: CheckedContinuation<ByteBuffer, any Error>, path: String)] = [:]
        var nextXid: Int32 = 1
        var watches: [WatchKey: [Int: AsyncStream<Result<ZooKeeperWatch.Notice, ZooKeeperError>>.Continuation]] = [:]
        var nextWatch = 0
        var expiryWaiters: [Int: AsyncStream<Void>.Continuation] = [:]
        var nextExpiryWaiter = 0
        /// Sessions that expired so far.
        var expiries = 0
        var lastZxid: Int64 = 0
        var sessionID: Int64 = 0
        var password = [UInt8](repeating: 0, count: 16)
        var closed = false
        /// Graceful shutdown began: the session is being closed.
        var closing = false
        /// A handshake has succeeded before: the next one is a reconnection.
        var connectedBefore = false
    }

    /// The servers, `host:port` each.
    public let servers: [(host: String, port: Int)]
    /// The session timeout asked for (the server may grant another within its bounds).
    public let sessionTimeout: Duration
    private let state = Mutex(State())
    private let group: any EventLoopGroup
    private let logger: Logger
    private let reconnects: Counter

    /// Creates a client; it connects once ``run()`` runs.
    /// - Parameters:
    ///   - servers: `host:port[,host:port…]`.
    ///   - sessionTimeout: The session timeout to ask for. Default 10 s.
    ///   - telemetry: Where connection changes are logged and counted
    ///     (`kite_zookeeper_reconnects_total`).
    /// - Throws: ``ZooKeeperError/malformed(_:)`` for a server list that does not parse.
    public init(
        servers: String,
        sessionTimeout: Duration = .seconds(10),
        telemetry: Telemetry,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) throws {
        self.servers = try servers.split(separator: ",").map { entry in
            guard let colon = entry.lastIndex(of: ":"), let port = Int(entry[entry.index(after: colon)...]),
                  (1...65535).contains(port), colon > entry.startIndex
            else { throw ZooKeeperError.malformed("the server \"\(entry)\" is not host:port") }
            return (String(entry[..<colon]), port)
        }
        guard !self.servers.isEmpty else { throw ZooKeeperError.malformed("no ZooKeeper server given") }
        self.sessionTimeout = sessionTimeout
        self.group = group
        var logger = telemetry.logger
        logger[metadataKey: "zookeeper"] = "\(servers)"
        self.logger = logger
        self.reconnects = telemetry.registry.counter(
            "kite_zookeeper_reconnects_total",
            help: "Connections to ZooKeeper made again after one broke.",
            labelNames: []
        ).labels()
    }

    /// The current session's ID (0 before the first connection).
    public var sessionID: Int64 { self.state.withLock { $0.sessionID } }

    /// The current session's ID and password: for tests that close the session from another
    /// connection to make it expire.
    var sessionCredentials: (id: Int64, password: [UInt8]) {
        self.state.withLock { ($0.sessionID, $0.password) }
    }

    // MARK: Operations

    /// Creates `path` with `data`; the path created (a sequential node's has its counter appended).
    @discardableResult
    public func create(_ path: String, data: [UInt8] = [], mode: CreateMode = .persistent) async throws -> String {
        var body = ByteBuffer()
        body.writeJuteString(path)
        body.writeJuteBuffer(data)
        body.writeInteger(Int32(1))  // one ACL: world:anyone, all permissions
        body.writeInteger(Int32(31))
        body.writeJuteString("world")
        body.writeJuteString("anyone")
        body.writeInteger(mode.rawValue)
        var reply = try await self.request(Op.create, body, path: path)
        return try reply.readJuteString()
    }

    /// Creates `path` and every missing parent as persistent nodes; an existing node is fine.
    public func createParents(_ path: String) async throws {
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += "/\(component)"
            do {
                try await self.create(prefix)
            } catch ZooKeeperError.server(code: ZooKeeperError.nodeExists, _) {}
        }
    }

    /// Deletes `path` (any version).
    public func delete(_ path: String) async throws {
        var body = ByteBuffer()
        body.writeJuteString(path)
        body.writeInteger(Int32(-1))
        _ = try await self.request(Op.delete, body, path: path)
    }

    /// Whether `path` exists.
    public func exists(_ path: String) async throws -> Bool {
        var body = ByteBuffer()
        body.writeJuteString(path)
        body.writeJuteBool(false)
        do {
            _ = try await self.request(Op.exists, body, path: path)
            return true
        } catch ZooKeeperError.server(code: ZooKeeperError.noNode, _) {
            return false
        }
    }

    /// The data of `path`.
    public func data(of path: String) async throws -> [UInt8] {
        var body = ByteBuffer()
        body.writeJuteString(path)
        body.writeJuteBool(false)
        var reply = try await self.request(Op.getData, body, path: path)
        return try reply.readJuteBuffer()
    }

    /// The children of `path` (names, not paths), and a watch that fires when they change.
    public func children(of path: String, watch: Bool) async throws -> (children: [String], watch: ZooKeeperWatch?) {
        var body = ByteBuffer()
        body.writeJuteString(path)
        body.writeJuteBool(watch)
        // The watch is registered before the request goes out, so a change right after the answer
        // cannot fire before anyone listens.
        let registered = watch ? self.addWatch(WatchKey(kind: .child, path: path)) : nil
        do {
            var reply = try await self.request(Op.getChildren, body, path: path)
            return (try reply.readJuteStrings(), registered?.watch)
        } catch {
            if let registered { self.removeWatch(registered.key, id: registered.id) }
            throw error
        }
    }

    /// How many sessions have expired so far: pass it to ``waitForSessionExpiry(after:)``.
    public var expiredSessions: Int { self.state.withLock { $0.expiries } }

    /// Returns when a session expires after `expiredSessions` had that value (at once if one
    /// already has) — its ephemeral nodes are gone and the client starts a new session; throws
    /// `CancellationError` when the task is cancelled, ``ZooKeeperError/closed`` when the client stops.
    public func waitForSessionExpiry(after expiredSessions: Int) async throws {
        let (stream, continuation) = AsyncStream<Void>.makeStream()
        let id: Int?? = self.state.withLock { state in
            if state.expiries > expiredSessions { return .some(nil) }
            guard !state.closed else { return nil }
            let id = state.nextExpiryWaiter
            state.nextExpiryWaiter += 1
            state.expiryWaiters[id] = continuation
            return id
        }
        guard let waiting = id else { throw ZooKeeperError.closed }
        guard let id = waiting else { return }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.expiryWaiters.removeValue(forKey: id) }
        }
        for await _ in stream { return }
        try Task.checkCancellation()
        throw ZooKeeperError.closed
    }

    // MARK: Requests

    private func request(_ op: Int32, _ body: ByteBuffer, path: String) async throws -> ByteBuffer {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ByteBuffer, any Error>) in
            let error: ZooKeeperError? = self.state.withLock { state in
                guard !state.closed else { return .closed }
                guard let outbound = state.outbound else { return .connectionLoss }
                let xid = state.nextXid
                state.nextXid = state.nextXid == Int32.max ? 1 : state.nextXid + 1
                state.pending[xid] = (continuation, path)
                outbound.yield(Self.packet(xid: xid, op: op, body))
                return nil
            }
            if let error { continuation.resume(throwing: error) }
        }
    }

    /// A request packet: its length, then the header (xid, op) and the body.
    static func packet(xid: Int32, op: Int32, _ body: ByteBuffer) -> ByteBuffer {
        var packet = ByteBuffer()
        packet.writeInteger(Int32(8 + body.readableBytes))
        packet.writeInteger(xid)
        packet.writeInteger(op)
        packet.writeImmutableBuffer(body)
        return packet
    }

    private func addWatch(_ key: WatchKey) -> (key: WatchKey, id: Int, watch: ZooKeeperWatch) {
        let (stream, continuation) = AsyncStream<Result<ZooKeeperWatch.Notice, ZooKeeperError>>.makeStream()
        let id = self.state.withLock { state in
            let id = state.nextWatch
            state.nextWatch += 1
            state.watches[key, default: [:]][id] = continuation
            return id
        }
        continuation.onTermination = { [weak self] _ in self?.removeWatch(key, id: id) }
        return (key, id, ZooKeeperWatch(notices: stream))
    }

    private func removeWatch(_ key: WatchKey, id: Int) {
        self.state.withLock { state in
            state.watches[key]?.removeValue(forKey: id)
            if state.watches[key]?.isEmpty == true { state.watches[key] = nil }
        }
    }

    // MARK: Session

    /// Keeps a session until graceful shutdown (then closes the session) or cancellation.
    public func run() async throws {
        await withGracefulShutdownHandler {
            await self.keepSession()
        } onGracefulShutdown: {
            self.beginClosing()
        }
        let (waiters, watches) = self.state.withLock { state in
            state.closed = true
            defer {
                state.expiryWaiters.removeAll()
                state.watches.removeAll()
            }
            return (Array(state.expiryWaiters.values), state.watches.values.flatMap(\.values))
        }
        for waiter in waiters { waiter.finish() }
        for watch in watches {
            watch.yield(.failure(.closed))
            watch.finish()
        }
    }

    private func keepSession() async {
        var serverIndex = 0
        var failures = 0
        while !Task.isCancelled && !self.state.withLock({ $0.closing }) {
            let server = self.servers[serverIndex % self.servers.count]
            serverIndex += 1
            do {
                try await self.connect(to: server)
                failures = 0
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                self.logger.warning("ZooKeeper connection failed", metadata: ["server": "\(server.host):\(server.port)", "error": "\(error)"])
            }
            self.disconnected()
            if self.state.withLock({ $0.closing }) { return }
            // Every server in turn, quickly; then back off, staying well inside the session timeout.
            if serverIndex % self.servers.count == 0 {
                failures += 1
                let backoff = min(Duration.milliseconds(50) * (1 << min(failures, 5)), self.sessionTimeout / 4)
                guard (try? await Task.sleep(for: backoff)) != nil else { return }
            }
        }
    }

    /// One connection: the handshake, then requests, replies, notifications and pings until it
    /// breaks (throws) or the task is cancelled (closes the session, returns).
    private func connect(to server: (host: String, port: Int)) async throws {
        // The connection and the handshake share one deadline, the session timeout divided among
        // the servers (as ZooKeeper's own Java client has it): a server that accepts and never
        // answers (still starting, or wedged) does not hold the client, and one slow to answer
        // (a session is a transaction it syncs to disk first) is not given up on too soon.
        let limit = self.sessionTimeout / self.servers.count
        let deadline = NIODeadline.now() + .nanoseconds(limit.clampedNanoseconds)
        let channel = try await Self.open(server, group: self.group, connectTimeout: limit)
        let handshakeTimeout = channel.channel.eventLoop.scheduleTask(deadline: deadline) {
            channel.channel.close(promise: nil)
        }
        try await channel.executeThenClose { inbound, outbound in
            var frames = inbound.makeAsyncIterator()
            // Handshake: ConnectRequest, ConnectResponse.
            let (sessionID, password, lastZxid) = self.state.withLock { ($0.sessionID, $0.password, $0.lastZxid) }
            try await outbound.write(Self.connectRequest(
                lastZxid: lastZxid,
                timeoutMilliseconds: Int32(clamping: self.sessionTimeout.clampedNanoseconds / 1_000_000),
                sessionID: sessionID,
                password: password
            ))
            guard var answer = try await frames.next() else { throw ZooKeeperError.connectionLoss }
            handshakeTimeout.cancel()
            let response = try Self.connectResponse(&answer)
            if response.timeoutMilliseconds <= 0 {
                self.expire()
                throw ZooKeeperError.sessionExpired
            }
            let newSession = response.sessionID != sessionID
            let (outgoing, outgoingContinuation) = AsyncStream<ByteBuffer>.makeStream()
            let (rearm, reconnecting): ([WatchKey], Bool) = self.state.withLock { state in
                state.sessionID = response.sessionID
                state.password = response.password
                state.outbound = outgoingContinuation
                defer { state.connectedBefore = true }
                return (newSession ? [] : Array(state.watches.keys), state.connectedBefore)
            }
            if reconnecting { self.reconnects.increment() }
            self.logger.info(
                newSession ? "ZooKeeper session started" : "ZooKeeper session resumed",
                metadata: [
                    "server": "\(server.host):\(server.port)",
                    "session": "0x\(String(UInt64(bitPattern: response.sessionID), radix: 16))",
                    "timeout_ms": "\(response.timeoutMilliseconds)",
                ]
            )
            if !rearm.isEmpty { outgoingContinuation.yield(self.setWatches(rearm)) }
            if !newSession { self.notifyWatches(.reconnected) }
            let pingEvery = Duration.milliseconds(Int64(response.timeoutMilliseconds) / 3)
            let silenceLimit = Duration.milliseconds(Int64(response.timeoutMilliseconds) * 2 / 3)
            let lastHeard = LastHeard()
            let clock = ContinuousClock()
            let start = clock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await frame in outgoing { try await outbound.write(frame) }
                }
                group.addTask {
                    while true {
                        try await Task.sleep(for: pingEvery)
                        let heard = start.advanced(by: .nanoseconds(lastHeard.nanoseconds.load(ordering: .relaxed)))
                        if heard.duration(to: clock.now) > silenceLimit {
                            throw ZooKeeperError.connectionLoss  // a server gone silent
                        }
                        outgoingContinuation.yield(Self.packet(xid: Xid.ping, op: Op.ping, ByteBuffer()))
                    }
                }
                // The handshake is over: from here only this task reads the connection.
                nonisolated(unsafe) var frames = frames
                group.addTask {
                    while var frame = try await frames.next() {
                        lastHeard.nanoseconds.store(start.duration(to: clock.now).clampedNanoseconds, ordering: .relaxed)
                        try self.received(&frame)
                    }
                    throw ZooKeeperError.connectionLoss
                }
                defer { group.cancelAll() }
                try await group.next()
            }
        }
    }

    /// Graceful shutdown: asks the server to close the session (its ephemeral nodes go at once);
    /// the server then closes the connection, which ends ``keepSession()``.
    private func beginClosing() {
        let outbound = self.state.withLock { state in
            state.closing = true
            return state.outbound
        }
        outbound?.yield(Self.packet(xid: Xid.closeSession, op: Op.closeSession, ByteBuffer()))
    }

    /// Handles one packet from the server: a reply, a notification, or a ping's answer.
    private func received(_ frame: inout ByteBuffer) throws {
        let xid = try frame.readJuteInt32()
        let zxid = try frame.readJuteInt64()
        let error = try frame.readJuteInt32()
        switch xid {
        case Xid.ping, Xid.setWatches, Xid.closeSession:
            return
        case Xid.notification:
            let type = try frame.readJuteInt32()
            _ = try frame.readJuteInt32()  // state
            let path = try frame.readJuteString()
            self.fire(type: type, path: path)
        default:
            let continuation = self.state.withLock { state in
                if zxid > 0 { state.lastZxid = max(state.lastZxid, zxid) }
                return state.pending.removeValue(forKey: xid)
            }
            guard let (continuation, path) = continuation else { throw ZooKeeperError.malformed("a reply to unknown request \(xid)") }
            if error == 0 {
                continuation.resume(returning: frame)
            } else if error == ZooKeeperError.sessionExpiredCode {
                continuation.resume(throwing: ZooKeeperError.sessionExpired)
            } else {
                continuation.resume(throwing: ZooKeeperError.server(code: error, path: path))
            }
        }
    }

    /// Fires (and removes: watches are one-shot) the watches a notification concerns.
    private func fire(type: Int32, path: String) {
        let kinds: [WatchKind] =
            switch type {
            case 1: [.exist]  // created
            case 2: [.data, .exist, .child]  // deleted
            case 3: [.data, .exist]  // data changed
            case 4: [.child]  // children changed
            default: []
            }
        let fired = self.state.withLock { state in
            kinds.flatMap { kind in state.watches.removeValue(forKey: WatchKey(kind: kind, path: path))?.values.map { $0 } ?? [] }
        }
        for watch in fired {
            watch.yield(.success(.fired(type: type, path: path)))
            watch.finish()
        }
    }

    private func notifyWatches(_ notice: ZooKeeperWatch.Notice) {
        let watches = self.state.withLock { $0.watches.values.flatMap(\.values) }
        for watch in watches { watch.yield(.success(notice)) }
    }

    /// The connection broke: pending requests fail with connection loss; watches hear of it.
    private func disconnected() {
        let (pending, wasConnected, closing) = self.state.withLock { state in
            defer { state.pending.removeAll() }
            let wasConnected = state.outbound != nil
            state.outbound?.finish()
            state.outbound = nil
            return (Array(state.pending.values), wasConnected, state.closing)
        }
        for (continuation, _) in pending { continuation.resume(throwing: ZooKeeperError.connectionLoss) }
        if closing {
            self.logger.info("ZooKeeper session closed")
        } else if wasConnected {
            self.logger.warning("ZooKeeper connection lost; reconnecting within the session")
            self.notifyWatches(.disconnected)
        }
    }

    /// The server said the session expired: start over with a new one; watches end; waiters return.
    private func expire() {
        let (watches, waiters) = self.state.withLock { state in
            state.sessionID = 0
            state.password = [UInt8](repeating: 0, count: 16)
            state.lastZxid = 0
            state.expiries += 1
            defer {
                state.watches.removeAll()
                state.expiryWaiters.removeAll()
            }
            return (state.watches.values.flatMap(\.values), Array(state.expiryWaiters.values))
        }
        self.logger.warning("ZooKeeper session expired; starting a new one")
        for watch in watches {
            watch.yield(.failure(.sessionExpired))
            watch.finish()
        }
        for waiter in waiters {
            waiter.yield()
            waiter.finish()
        }
    }

    private func setWatches(_ keys: [WatchKey]) -> ByteBuffer {
        var body = ByteBuffer()
        body.writeInteger(self.state.withLock { $0.lastZxid })
        for kind in [WatchKind.data, .exist, .child] {
            body.writeJuteStrings(keys.filter { $0.kind == kind }.map(\.path))
        }
        return Self.packet(xid: Xid.setWatches, op: Op.setWatches, body)
    }

    // MARK: Handshake

    /// A connection to `server` that reads whole packets.
    static func open(
        _ server: (host: String, port: Int),
        group: any EventLoopGroup,
        connectTimeout: Duration
    ) async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        try await ClientBootstrap(group: group)
            .connectTimeout(.nanoseconds(connectTimeout.clampedNanoseconds))
            .connect(host: server.host, port: server.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(ZooKeeperFrameDecoder()))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
    }

    static func connectRequest(lastZxid: Int64, timeoutMilliseconds: Int32, sessionID: Int64, password: [UInt8]) -> ByteBuffer {
        var body = ByteBuffer()
        body.writeInteger(Int32(0))  // protocol version
        body.writeInteger(lastZxid)
        body.writeInteger(timeoutMilliseconds)
        body.writeInteger(sessionID)
        body.writeJuteBuffer(password)
        body.writeJuteBool(false)  // not read-only
        var packet = ByteBuffer()
        packet.writeInteger(Int32(body.readableBytes))
        packet.writeImmutableBuffer(body)
        return packet
    }

    static func connectResponse(_ frame: inout ByteBuffer) throws -> (timeoutMilliseconds: Int32, sessionID: Int64, password: [UInt8]) {
        _ = try frame.readJuteInt32()  // protocol version
        let timeout = try frame.readJuteInt32()
        let sessionID = try frame.readJuteInt64()
        let password = try frame.readJuteBuffer()
        return (timeout, sessionID, password)
    }
}

/// When a connection last heard from the server, in nanoseconds since it was made.
private final class LastHeard: Sendable {
    let nanoseconds = Atomic<Int64>(0)
}

extension ZooKeeperClient {
    /// Closes the session `credentials` names from a connection of its own — what a second client
    /// holding the same session ID and password can do — so that the session's owner finds it
    /// expired when it next talks to the server. For tests of session expiry.
    static func closeSession(
        _ credentials: (id: Int64, password: [UInt8]),
        on server: (host: String, port: Int),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws {
        let channel = try await Self.open(server, group: group, connectTimeout: .seconds(5))
        try await channel.executeThenClose { inbound, outbound in
            var frames = inbound.makeAsyncIterator()
            try await outbound.write(Self.connectRequest(lastZxid: 0, timeoutMilliseconds: 10_000, sessionID: credentials.id, password: credentials.password))
            guard var answer = try await frames.next() else { throw ZooKeeperError.connectionLoss }
            guard try Self.connectResponse(&answer).timeoutMilliseconds > 0 else { throw ZooKeeperError.sessionExpired }
            try await outbound.write(Self.packet(xid: 1, op: Op.closeSession, ByteBuffer()))
            _ = try await frames.next()
        }
    }
}
