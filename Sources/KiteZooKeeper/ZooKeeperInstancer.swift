import Kite
import KiteTelemetry
import ServiceLifecycle

/// An ``Instancer`` over ZooKeeper: the data of the children of a node (by default
/// `/kite/services/<service>`, where ``ZooKeeperRegistrar`` creates them), kept current by a watch
/// on the node's children.
///
/// While the connection is down the last set is kept and reported with the error; when it comes
/// back within the session the children are read again (the watch survives too). When the session
/// expires the watch is gone: the children are read again in the new session. Each such resync
/// counts in `kite_discovery_watch_reconnects_total`. Run it (and its client) in the `ServiceGroup`.
public final class ZooKeeperInstancer: Instancer, Service {
    public let service: String
    /// The node whose children are the instances.
    public let path: String
    private let client: ZooKeeperClient
    private let feed: InstanceFeed

    /// Creates an instancer; it reads once ``run()`` runs.
    /// - Parameters:
    ///   - service: The service's name.
    ///   - client: The ZooKeeper client (run it too).
    ///   - path: The node; default ``ZooKeeperRegistrar/defaultPath(service:)``.
    ///   - telemetry: Where the discovery metrics and log lines go.
    public init(service: String, client: ZooKeeperClient, path: String? = nil, telemetry: Telemetry) {
        self.service = service
        self.path = path ?? ZooKeeperRegistrar.defaultPath(service: service)
        self.client = client
        self.feed = InstanceFeed(service: service, backend: "zookeeper", telemetry: telemetry)
    }

    public func events() -> InstancerEvents {
        self.feed.events()
    }

    /// Reads and watches until graceful shutdown or cancellation; then ends every subscription.
    public func run() async throws {
        await self.feed.follow { await self.follow() }
    }

    /// The node's children and a watch on them; the node is made first when it is missing (no
    /// instance has registered yet).
    private func watchChildren() async throws -> (children: [String], watch: ZooKeeperWatch?) {
        do {
            return try await self.client.children(of: self.path, watch: true)
        } catch ZooKeeperError.server(code: ZooKeeperError.noNode, _) {
            try await self.client.createParents(self.path)
            return try await self.client.children(of: self.path, watch: true)
        }
    }

    private func follow() async {
        var backoff = Duration.milliseconds(100)
        var listed = false
        var resync = false
        while !Task.isCancelled {
            do {
                let (children, watch) = try await self.watchChildren()
                var instances: [String] = []
                for child in children {
                    do {
                        instances.append(String(decoding: try await self.client.data(of: "\(self.path)/\(child)"), as: UTF8.self))
                    } catch ZooKeeperError.server(code: ZooKeeperError.noNode, _) {
                        // Gone between the listing and the read: the watch reports it.
                    }
                }
                self.feed.update(instances.sorted())
                if listed && resync { self.feed.recordReconnect() }
                listed = true
                resync = false
                backoff = .milliseconds(100)
                guard let watch else { return }
                waiting: while true {
                    switch try await watch.next() {
                    case .fired: break waiting
                    case .disconnected: self.feed.fail(ZooKeeperError.connectionLoss)
                    case .reconnected:
                        resync = true
                        break waiting
                    }
                }
            } catch {
                if Task.isCancelled { return }
                self.feed.fail(error)
                resync = true
                guard (try? await Task.sleep(for: backoff)) != nil else { return }
                backoff = min(backoff * 2, .seconds(5))
            }
        }
    }
}
