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
/// `maxPacketSize`. A dead or absent agent costs the service nothing: send errors are counted
/// (`kite_statsd_send_errors_total`), never thrown at anyone.
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

    private struct State: ~Copyable {
        var encoder: StatsDEncoder
        var channel: (any Channel)?
        var remote: SocketAddress?
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

    /// Flushes every `flushInterval` until graceful shutdown or cancellation, then once more.
    public func run() async throws {
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                do {
                    try await Task.sleep(for: self.configuration.flushInterval)
                } catch {
                    break
                }
                await self.flush()
            }
        } onGracefulShutdown: {}
        await self.flush()
        let channel = self.state.withLock { state in
            defer { state.channel = nil }
            return state.channel
        }
        try? await channel?.close()
    }

    /// Collects the registry and sends what changed since the last flush.
    public func flush() async {
        let samples = self.registry.collect()
        let lines = self.state.withLock { $0.encoder.encode(samples) }
        let (datagrams, dropped) = StatsDEncoder.pack(lines, maxPacketSize: self.configuration.maxPacketSize)
        if dropped > 0 { self.droppedLines.increment(by: dropped) }
        guard !datagrams.isEmpty else { return }
        guard let (channel, remote) = await self.connection() else {
            self.sendErrors.increment(by: datagrams.count)
            return
        }
        for datagram in datagrams {
            do {
                if let remote {
                    try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: remote, data: ByteBuffer(bytes: datagram)))
                } else {
                    try await channel.writeAndFlush(ByteBuffer(bytes: datagram))  // a connected Unix socket
                }
                self.packets.increment()
            } catch {
                self.sendErrors.increment()
            }
        }
    }

    /// The channel and, for UDP, the agent's address, made on first use; `nil` (logged) when the
    /// address does not resolve or no socket can be opened. A Unix socket channel is connected to
    /// the agent and needs no address per datagram.
    private func connection() async -> (any Channel, SocketAddress?)? {
        if let existing = self.state.withLock({ state in state.channel.map { ($0, state.remote) } }) {
            return existing
        }
        do {
            let channel: any Channel
            var remote: SocketAddress?
            if let path = self.configuration.unixSocketPath {
                channel = try await DatagramBootstrap(group: self.group).connect(unixDomainSocketPath: path).get()
            } else {
                let address = try SocketAddress.makeAddressResolvingHost(self.configuration.host, port: self.configuration.port)
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
            self.logger.error(
                "StatsD agent unreachable; metrics are not pushed",
                metadata: [
                    "address": "\(self.configuration.unixSocketPath.map { "unix://\($0)" } ?? "\(self.configuration.host):\(self.configuration.port)")",
                    "error": "\(error)",
                ]
            )
            return nil
        }
    }
}
