import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// Pushes the registry to a StatsD or DogStatsD agent over UDP or a Unix domain datagram socket.
///
/// It reads the same registry Prometheus scrapes, so an endpoint instrumented once shows up in
/// both. Nothing happens per metric event: every `flushInterval` the exporter collects the
/// registry, encodes deltas (see ``StatsDEncoder``) and sends them in as few datagrams as fit
/// `maxPacketSize`. A dead or absent agent costs the service nothing:
///
/// - Datagrams that cannot be sent are counted (`kite_statsd_send_errors_total`), never thrown
///   at anyone. While no socket to the agent can be opened, counter and histogram changes are
///   kept and sent with the first flush that has one; a datagram whose send fails is lost.
/// - An outage is logged once when it starts and once when the agent takes datagrams again, not
///   once per flush.
/// - The exporter reconnects by itself: after a failed send the socket is closed and the next
///   flush opens a new one (a restarted agent's new Unix socket, a host name's new address).
///   While the agent stays unreachable, reconnecting is tried at most once a second, and a host
///   name is resolved on NIO's blocking-I/O thread pool, never on a task's thread.
/// - An agent that stops reading (its Unix socket's buffer full) cannot hold a flush: after one
///   second of waiting to send, the socket is closed, the rest of the flush is counted as send
///   errors, and the next flush opens a new socket.
/// - Graceful shutdown cancels the wait for the next flush and flushes at once.
public final class StatsDExporter: Service {
    /// The settings in use.
    public let configuration: StatsDConfiguration
    private let registry: MetricRegistry
    private let logger: Logger
    private let group: any EventLoopGroup
    private let state: Mutex<State>
    private let packets: Counter
    private let sendErrors: Counter
    private let droppedLines: Counter
    private let flushLock = AsyncLock()

    /// The least time between two attempts to open a socket while the agent is unreachable.
    static let reconnectInterval: Duration = .seconds(1)
    /// The longest one flush may spend sending before its socket is closed.
    static let sendTimeout: Duration = .seconds(1)

    private struct State: ~Copyable {
        var encoder: StatsDEncoder
        var channel: (any Channel)?
        var remote: SocketAddress?
        /// Whether the agent is unreachable (an outage was logged, its end is not yet).
        var failing = false
        /// No new socket is opened before this instant.
        var nextConnectAttempt: ContinuousClock.Instant?
    }

    /// Creates an exporter; it sends once ``run()`` runs (or on ``flush()``).
    public init(
        configuration: StatsDConfiguration,
        registry: MetricRegistry,
        logger: Logger,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.configuration = configuration
        self.registry = registry
        self.logger = logger
        self.group = group
        self.state = Mutex(State(encoder: StatsDEncoder(configuration: configuration)))
        self.packets = registry.counter("kite_statsd_packets_sent_total", help: "Datagrams sent to the StatsD agent.").labels()
        self.sendErrors = registry.counter(
            "kite_statsd_send_errors_total",
            help: "Datagrams that could not be sent to the StatsD agent."
        ).labels()
        self.droppedLines = registry.counter(
            "kite_statsd_dropped_lines_total",
            help: "StatsD lines left out because one line was longer than a datagram."
        ).labels()
    }

    /// The agent's address as configured, for log lines.
    private var address: String {
        self.configuration.unixSocketPath.map { "unix://\($0)" } ?? "\(self.configuration.host):\(self.configuration.port)"
    }

    /// Flushes every `flushInterval` until graceful shutdown or cancellation (either ends the
    /// wait at once), then once more.
    public func run() async throws {
        let interval = self.configuration.flushInterval
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: interval)
                } catch {
                    return
                }
                await self.flush()
            }
        }
        await self.flush()
        self.closeChannel()
    }

    /// Collects the registry and sends what changed since the last flush that reached a socket.
    /// Flushes run one at a time.
    public func flush() async {
        await self.flushLock.withLock {
            let samples = self.registry.collect()
            let lines = self.state.withLock { $0.encoder.encode(samples) }
            let (datagrams, dropped) = StatsDEncoder.pack(lines, maxPacketSize: self.configuration.maxPacketSize)
            // Once committed, these changes are sent (or lost and counted), never sent again.
            func commit() {
                self.state.withLock { $0.encoder.commit() }
                if dropped > 0 { self.droppedLines.increment(by: dropped) }
            }
            guard !datagrams.isEmpty else {
                commit()  // nothing changed, or only lines too long for any datagram
                return
            }
            guard let (channel, remote) = await self.connection() else {
                // Not committed: these changes go out with the next flush that has a socket.
                self.sendErrors.increment(by: datagrams.count)
                return
            }
            commit()
            // An agent that stops reading its Unix socket makes writes wait for room forever:
            // past the timeout the socket is closed, which fails them. The timer runs on the
            // event loop, so it fires even when this task is cancelled (graceful shutdown).
            let timeout = channel.eventLoop.scheduleTask(in: .nanoseconds(Self.sendTimeout.clampedNanoseconds)) {
                self.closeChannel(ifStill: channel)
            }
            await self.send(datagrams, on: channel, to: remote)
            timeout.cancel()
        }
    }

    /// Sends `datagrams` in order — all handed to the event loop at once, so sending never waits
    /// for this task to be scheduled between two datagrams; on the first failure counts it and
    /// the rest as send errors, closes the socket (the next flush opens a new one) and reports
    /// the outage.
    private func send(_ datagrams: [[UInt8]], on channel: any Channel, to remote: SocketAddress?) async {
        let writes = datagrams.map { datagram in
            if let remote {
                channel.write(AddressedEnvelope(remoteAddress: remote, data: ByteBuffer(bytes: datagram)))
            } else {
                channel.write(ByteBuffer(bytes: datagram))  // a connected Unix socket
            }
        }
        channel.flush()
        for (index, write) in writes.enumerated() {
            do {
                try await write.get()
                self.packets.increment()
            } catch {
                // The agent went away (a Unix socket unlinked, a port closed) or stopped reading
                // (the send timed out): the rest of this flush is lost and counted.
                self.sendErrors.increment(by: writes.count - index)
                self.closeChannel(ifStill: channel)
                self.reportFailure(error)
                return
            }
        }
        self.reportSuccess()
    }

    /// The channel and, for UDP, the agent's address, made on first use and after a failure;
    /// `nil` when the address does not resolve or no socket can be opened (or the last attempt
    /// was less than ``reconnectInterval`` ago). A Unix socket channel is connected to the agent
    /// and needs no address per datagram.
    private func connection() async -> (any Channel, SocketAddress?)? {
        enum Next {
            case use(any Channel, SocketAddress?)
            case wait
            case connect
        }
        let now = ContinuousClock.now
        let next: Next = self.state.withLock { state in
            if let channel = state.channel { return .use(channel, state.remote) }
            if let earliest = state.nextConnectAttempt, now < earliest { return .wait }
            state.nextConnectAttempt = now + Self.reconnectInterval
            return .connect
        }
        switch next {
        case .use(let channel, let remote): return (channel, remote)
        case .wait: return nil
        case .connect: break
        }
        do {
            let channel: any Channel
            var remote: SocketAddress?
            if let path = self.configuration.unixSocketPath {
                channel = try await DatagramBootstrap(group: self.group).connect(unixDomainSocketPath: path).get()
            } else {
                let address = try await self.resolve()
                channel = try await DatagramBootstrap(group: self.group)
                    .bind(host: address.protocol == .inet6 ? "::" : "0.0.0.0", port: 0)
                    .get()
                remote = address
            }
            self.state.withLock {
                $0.channel = channel
                $0.remote = remote
            }
            return (channel, remote)
        } catch {
            self.reportFailure(error)
            return nil
        }
    }

    /// The agent's UDP address: an IP address as it is, a host name looked up on NIO's thread
    /// pool for blocking I/O (`getaddrinfo` blocks).
    private func resolve() async throws -> SocketAddress {
        let (host, port) = (self.configuration.host, self.configuration.port)
        if let address = try? SocketAddress(ipAddress: host, port: port) { return address }
        return try await NIOThreadPool.singleton.runIfActive {
            try SocketAddress.makeAddressResolvingHost(host, port: port)
        }
    }

    private func closeChannel(ifStill expected: (any Channel)? = nil) {
        let channel: (any Channel)? = self.state.withLock { state in
            guard let channel = state.channel, expected == nil || channel === expected else { return nil }
            state.channel = nil
            state.remote = nil
            return channel
        }
        channel?.close(promise: nil)
    }

    /// Logs the start of an outage (once).
    private func reportFailure(_ error: any Error) {
        let first = self.state.withLock { state in
            defer { state.failing = true }
            return !state.failing
        }
        guard first else { return }
        self.logger.error(
            "StatsD agent unreachable; metrics are not pushed until it is back (datagrams counted in kite_statsd_send_errors_total)",
            metadata: ["address": "\(self.address)", "error": "\(error)"]
        )
    }

    /// Logs the end of an outage (once).
    private func reportSuccess() {
        let recovered = self.state.withLock { state in
            defer { state.failing = false }
            return state.failing
        }
        guard recovered else { return }
        self.logger.info("StatsD agent reachable again; metrics are pushed", metadata: ["address": "\(self.address)"])
    }
}
