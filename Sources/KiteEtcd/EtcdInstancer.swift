import Kite
import KiteTelemetry
import Logging
import ServiceLifecycle

/// An ``Instancer`` over etcd: the values of the keys under a prefix (by default
/// `/kite/services/<service>/`, where ``EtcdRegistrar`` writes), kept current by a watch.
///
/// It lists the prefix, then watches it from the revision after the list. When the watch breaks —
/// etcd restarted, the connection dropped — it keeps the last known set (reported with the error)
/// and, after a backoff (100 ms doubling to 5 s), watches again from the revision after the last
/// change it saw, so no change in between is lost; when etcd has compacted that revision away, it
/// lists the prefix again at once. Each such resync counts in
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
    private let logger: Logger

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
        var logger = telemetry.logger
        logger[metadataKey: "service"] = "\(service)"
        self.logger = logger
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
        var values: [String: String] = [:]
        // The revision `values` reflect; `nil` when the prefix must be listed first.
        var revision: Int64?
        var broken = false
        while !Task.isCancelled {
            do {
                if revision == nil {
                    let (keyValues, listedAt) = try await self.client.range(prefix: self.prefix)
                    values = [:]
                    for keyValue in keyValues { values[keyValue.key] = keyValue.value }
                    revision = listedAt
                    self.feed.update(values.values.sorted())
                } else if broken, let revision {
                    // Resuming after a break: only from a revision etcd still has.
                    try await self.client.checkHistory(prefix: self.prefix, at: revision)
                }
                try await self.client.watch(prefix: self.prefix, fromRevision: (revision ?? 0) + 1) { changes, at in
                    if changes.isEmpty {
                        // The watch is (again) in place: the set is current, whatever broke is mended.
                        if broken {
                            self.feed.update(values.values.sorted())
                            self.feed.recordReconnect()
                            broken = false
                        }
                        backoff = .milliseconds(100)
                        return
                    }
                    for change in changes {
                        switch change {
                        case .put(let key, let value): values[key] = value
                        case .delete(let key): values[key] = nil
                        }
                    }
                    revision = at
                    self.feed.update(values.values.sorted())
                }
            } catch {
                if Task.isCancelled { return }
                broken = true
                if case EtcdError.compacted = error {
                    // Changes since `revision` are gone from etcd's history: list again, at once.
                    self.logger.info("etcd compacted its history past the watch; listing again", metadata: ["error": "\(error)"])
                    revision = nil
                    continue
                }
                self.feed.fail(error)
                guard (try? await Task.sleep(for: backoff)) != nil else { return }
                backoff = min(backoff * 2, .seconds(5))
            }
        }
    }
}
