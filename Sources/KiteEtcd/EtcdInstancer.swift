import Kite
import KiteTelemetry
import ServiceLifecycle

/// An ``Instancer`` over etcd: the values of the keys under a prefix (by default
/// `/kite/services/<service>/`, where ``EtcdRegistrar`` writes), kept current by a watch.
///
/// It lists the prefix, then watches it from the revision after the list. When the watch breaks —
/// etcd restarted, the connection dropped, the history compacted past the watch — it keeps the last
/// known set (reported with the error), lists again after a backoff (100 ms doubling to 5 s;
/// at once after a compaction) and watches anew; each such resync counts in
/// `kite_discovery_watch_reconnects_total`. Run it in the `ServiceGroup`.
///
/// A connection that goes silent without closing (a network partition) is not detected: the watch
/// then waits until the connection's keep-alive gives up.
public final class EtcdInstancer: Instancer, Service {
    public let service: String
    /// The key prefix watched.
    public let prefix: String
    private let client: EtcdClient
    private let feed: InstanceFeed

    /// Creates an instancer; it reads etcd once ``run()`` runs.
    /// - Parameters:
    ///   - service: The service's name.
    ///   - client: The etcd client.
    ///   - prefix: The key prefix; default ``EtcdRegistrar/defaultPrefix(service:)``.
    ///   - telemetry: Where the discovery metrics and log lines go.
    public init(service: String, client: EtcdClient, prefix: String? = nil, telemetry: Telemetry) {
        self.service = service
        self.prefix = prefix ?? EtcdRegistrar.defaultPrefix(service: service)
        self.client = client
        self.feed = InstanceFeed(service: service, backend: "etcd", telemetry: telemetry)
    }

    public func events() -> InstancerEvents {
        self.feed.events()
    }

    /// Lists and watches until graceful shutdown or cancellation; then ends every subscription.
    public func run() async throws {
        await self.feed.follow { await self.follow() }
    }

    private func follow() async {
        var backoff = Duration.milliseconds(100)
        var listed = false
        while !Task.isCancelled {
            do {
                let (keyValues, revision) = try await self.client.range(prefix: self.prefix)
                var values: [String: String] = [:]
                for keyValue in keyValues { values[keyValue.key] = keyValue.value }
                self.feed.update(values.values.sorted())
                if listed { self.feed.recordReconnect() }
                listed = true
                backoff = .milliseconds(100)
                try await self.client.watch(prefix: self.prefix, fromRevision: revision + 1) { changes, _ in
                    for change in changes {
                        switch change {
                        case .put(let key, let value): values[key] = value
                        case .delete(let key): values[key] = nil
                        }
                    }
                    self.feed.update(values.values.sorted())
                }
            } catch {
                if Task.isCancelled { return }
                self.feed.fail(error)
                if case EtcdError.compacted = error { continue }
                guard (try? await Task.sleep(for: backoff)) != nil else { return }
                backoff = min(backoff * 2, .seconds(5))
            }
        }
    }
}
