import Kite
import KiteTelemetry
import ServiceLifecycle

/// An ``Instancer`` over Consul: the passing instances of a service (with every one of the given
/// tags), kept current by blocking queries on the agent's health endpoint.
///
/// Each answer's `X-Consul-Index` is the next query's `index`, so the agent answers as soon as the
/// service's health changes or after `wait`. Following Consul's rules for clients, an index that
/// went backwards is reset (the next query answers at once). A failed query keeps the last set
/// (reported with the error), and is tried again after a backoff (100 ms doubling to 5 s) without
/// an index, so the first answer after recovery is fresh; such recoveries count in
/// `kite_discovery_watch_reconnects_total`. Run it in the `ServiceGroup`.
public final class ConsulInstancer: Instancer, Service {
    public let service: String
    /// The tags an instance must carry.
    public let tags: [String]
    private let client: ConsulClient
    private let wait: Duration
    private let feed: InstanceFeed

    /// Creates an instancer; it queries the agent once ``run()`` runs.
    /// - Parameters:
    ///   - service: The service's name in Consul.
    ///   - tags: Tags an instance must carry. Default none.
    ///   - client: The agent's client.
    ///   - wait: How long a blocking query may wait. Default 5 minutes (Consul's default).
    ///   - telemetry: Where the discovery metrics and log lines go.
    public init(service: String, tags: [String] = [], client: ConsulClient, wait: Duration = .seconds(300), telemetry: Telemetry) {
        self.service = service
        self.tags = tags
        self.client = client
        self.wait = wait
        self.feed = InstanceFeed(service: service, backend: "consul", telemetry: telemetry)
    }

    public func events() -> InstancerEvents {
        self.feed.events()
    }

    /// Queries until graceful shutdown or cancellation; then ends every subscription.
    public func run() async throws {
        await self.feed.follow { await self.follow() }
    }

    private func follow() async {
        var index: UInt64 = 0
        var backoff = Duration.milliseconds(100)
        var failed = false
        while !Task.isCancelled {
            do {
                let (instances, next) = try await self.client.healthyInstances(of: self.service, tags: self.tags, index: index, wait: self.wait)
                self.feed.update(instances.map(\.address).sorted())
                if failed { self.feed.recordReconnect() }
                failed = false
                backoff = .milliseconds(100)
                index = next < index ? 0 : max(next, 1)
            } catch {
                if Task.isCancelled { return }
                self.feed.fail(error)
                failed = true
                index = 0
                guard (try? await Task.sleep(for: backoff)) != nil else { return }
                backoff = min(backoff * 2, .seconds(5))
            }
        }
    }
}
