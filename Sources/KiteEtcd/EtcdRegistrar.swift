import Kite
import Synchronization

/// A ``Registrar`` for etcd: the instance is the value of the key `<prefix><instance>`, bound to a
/// lease that ``keepAlive()`` renews every third of its TTL, so that a crashed instance's key goes
/// when its lease expires. Run it with ``RegistrationService``.
///
/// The lease is lost when etcd says so (a keep-alive answers no TTL: expired or revoked) or when no
/// renewal succeeded for a whole TTL; the service then registers again with a new lease.
/// Deregistering revokes the lease, which deletes the key.
public final class EtcdRegistrar: Registrar {
    public let service: String
    public let instance: String
    public var backend: String { "etcd" }
    /// The key the instance is written under.
    public let key: String
    /// The lease's time to live.
    public let ttl: Duration
    private let client: EtcdClient
    private let lease = Mutex<Int64?>(nil)

    /// The prefix Kite's etcd registrar and instancer use for `service`: `/kite/services/<service>/`.
    public static func defaultPrefix(service: String) -> String {
        "/kite/services/\(service)/"
    }

    /// Creates a registrar.
    /// - Parameters:
    ///   - service: The service's name.
    ///   - instance: This instance's address (the key's value), such as `127.0.0.1:8081`.
    ///   - client: The etcd client.
    ///   - ttl: The lease's time to live, at least 2 s (etcd's minimum lease is longer still on
    ///     some versions). Default 10 s: a crashed instance is gone within 10 s.
    ///   - prefix: The key prefix; default ``defaultPrefix(service:)``.
    public init(service: String, instance: String, client: EtcdClient, ttl: Duration = .seconds(10), prefix: String? = nil) {
        self.service = service
        self.instance = instance
        self.key = (prefix ?? Self.defaultPrefix(service: service)) + instance
        self.ttl = max(ttl, .seconds(2))
        self.client = client
    }

    private var ttlSeconds: Int64 { self.ttl.components.seconds }

    public func register() async throws {
        let lease = try await self.client.grantLease(ttl: self.ttlSeconds)
        do {
            try await self.client.put(self.key, self.instance, lease: lease)
        } catch {
            try? await self.client.revoke(lease: lease)
            throw error
        }
        self.lease.withLock { $0 = lease }
    }

    public func keepAlive() async throws {
        guard let lease = self.lease.withLock({ $0 }) else { return }
        try await renewRegistration(ttl: self.ttl) {
            try await self.client.keepAlive(lease: lease) > 0  // 0: etcd no longer has the lease
        }
    }

    public func deregister() async throws {
        let lease = self.lease.withLock { lease in
            defer { lease = nil }
            return lease
        }
        if let lease {
            try await self.client.revoke(lease: lease)
        } else {
            try await self.client.delete(self.key)
        }
    }
}
