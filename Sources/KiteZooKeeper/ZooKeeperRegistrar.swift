import Kite
import Synchronization

/// A ``Registrar`` for ZooKeeper: the instance is the data of an ephemeral sequential node
/// `<path>/instance-NNNNNNNNNN`, which lives as long as the client's session — a crashed
/// instance's node goes when its session expires, and a closed session's at once.
///
/// ``keepAlive()`` waits for the session to expire (the client keeps it alive meanwhile, across
/// reconnections); the registration is then made again in the new session. Run it with
/// ``RegistrationService``, and the client in the same `ServiceGroup`.
public final class ZooKeeperRegistrar: Registrar {
    public let service: String
    public let instance: String
    public var backend: String { "zookeeper" }
    /// The parent node of the registration.
    public let path: String
    private let client: ZooKeeperClient
    private let node = Mutex<String?>(nil)
    /// The client's count of expired sessions when the node was made.
    private let session = Atomic<Int>(0)

    /// The node Kite's ZooKeeper registrar and instancer use for `service`: `/kite/services/<service>`.
    public static func defaultPath(service: String) -> String {
        "/kite/services/\(service)"
    }

    /// Creates a registrar.
    /// - Parameters:
    ///   - service: The service's name.
    ///   - instance: This instance's address (the node's data).
    ///   - client: The ZooKeeper client (run it too).
    ///   - path: The parent node; default ``defaultPath(service:)``.
    public init(service: String, instance: String, client: ZooKeeperClient, path: String? = nil) {
        self.service = service
        self.instance = instance
        self.path = path ?? Self.defaultPath(service: service)
        self.client = client
    }

    public func register() async throws {
        self.session.store(self.client.expiredSessions, ordering: .relaxed)
        try await self.client.createParents(self.path)
        let created = try await self.client.create("\(self.path)/instance-", data: Array(self.instance.utf8), mode: .ephemeralSequential)
        self.node.withLock { $0 = created }
    }

    public func keepAlive() async throws {
        try await self.client.waitForSessionExpiry(after: self.session.load(ordering: .relaxed))
    }

    public func deregister() async throws {
        guard let node = self.node.withLock({ node in defer { node = nil }; return node }) else { return }
        do {
            try await self.client.delete(node)
        } catch ZooKeeperError.server(code: ZooKeeperError.noNode, _) {}
    }
}
