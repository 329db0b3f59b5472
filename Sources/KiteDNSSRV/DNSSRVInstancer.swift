import Kite
import KiteTelemetry
import ServiceLifecycle

/// An ``Instancer`` over DNS SRV records: the `host:port` of each record of a name such as
/// `_addsvc._tcp.example.test`, preferred first (lower priority, then higher weight), looked up
/// again when the records' TTL runs out.
///
/// The lookup is re-polled after the smallest TTL of the answer, bounded by `minimumInterval` and
/// `maximumInterval` (a TTL of 0, as dnsmasq gives its own records, polls at the minimum). A failed
/// lookup keeps the last set (reported with the error) and is tried again after the minimum
/// interval, doubling up to the maximum. A name that does not exist (NXDOMAIN) is such an error; a
/// name with no records is an empty set. Answers fetched over TCP because the UDP answer was
/// truncated count in `kite_discovery_dns_tcp_fallbacks_total{service}`. Run it in the
/// `ServiceGroup`.
public final class DNSSRVInstancer: Instancer, Service {
    public let service: String
    /// The name looked up.
    public let name: String
    private let resolver: SRVResolver
    private let minimumInterval: Duration
    private let maximumInterval: Duration
    private let feed: InstanceFeed
    private let tcpFallbacks: Counter

    /// Creates an instancer; it looks up once ``run()`` runs.
    /// - Parameters:
    ///   - service: The service's name.
    ///   - name: The SRV name to look up.
    ///   - resolver: The resolver to ask. Default the first `nameserver` of `/etc/resolv.conf`.
    ///   - minimumInterval: The shortest time between lookups. Default 1 s.
    ///   - maximumInterval: The longest time between lookups. Default 60 s.
    ///   - telemetry: Where the discovery metrics and log lines go.
    public init(
        service: String,
        name: String,
        resolver: SRVResolver? = nil,
        minimumInterval: Duration = .seconds(1),
        maximumInterval: Duration = .seconds(60),
        telemetry: Telemetry
    ) throws {
        self.service = service
        self.name = name
        self.resolver = try resolver ?? SRVResolver()
        self.minimumInterval = minimumInterval
        self.maximumInterval = max(minimumInterval, maximumInterval)
        self.feed = InstanceFeed(service: service, backend: "dns", telemetry: telemetry)
        self.tcpFallbacks = telemetry.registry.counter(
            "kite_discovery_dns_tcp_fallbacks_total",
            help: "SRV lookups answered over TCP because the UDP answer was truncated.",
            labelNames: ["service"]
        ).labels(service)
    }

    public func events() -> InstancerEvents {
        self.feed.events()
    }

    /// Looks up and re-polls until graceful shutdown or cancellation; then ends every subscription.
    public func run() async throws {
        await self.feed.follow { await self.poll() }
    }

    private func poll() async {
        var retry = self.minimumInterval
        while !Task.isCancelled {
            let wait: Duration
            do {
                let lookup = try await self.resolver.lookup(self.name)
                if lookup.overTCP { self.tcpFallbacks.increment() }
                self.feed.update(lookup.records.map(\.instance))
                let ttl = Duration.seconds(lookup.records.map(\.ttl).min() ?? 0)
                wait = min(max(ttl, self.minimumInterval), self.maximumInterval)
                retry = self.minimumInterval
            } catch {
                if Task.isCancelled { return }
                self.feed.fail(error)
                wait = retry
                retry = min(retry * 2, self.maximumInterval)
            }
            guard (try? await Task.sleep(for: wait)) != nil else { return }
        }
    }
}
