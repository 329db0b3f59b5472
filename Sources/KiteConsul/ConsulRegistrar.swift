import Kite

/// A ``Registrar`` for a Consul agent: registers the service with a TTL check, passes the check
/// every third of its TTL, and deregisters it. A crashed instance's check turns critical after the
/// TTL (it leaves every `passing` query at once) and the agent removes the service after
/// `deregisterCriticalAfter`. When the agent no longer knows the check (it restarted without its
/// state), the registration counts as lost and is made again. Run it with ``RegistrationService``.
public final class ConsulRegistrar: Registrar {
    public var service: String { self.registration.name }
    public var instance: String { "\(self.registration.address):\(self.registration.port)" }
    public var backend: String { "consul" }
    /// What is registered.
    public let registration: ConsulClient.Registration
    private let client: ConsulClient

    /// Creates a registrar.
    /// - Parameters:
    ///   - service: The service's name.
    ///   - address: This instance's address.
    ///   - port: This instance's port.
    ///   - id: The service instance's ID. Default `<service>-<address>:<port>`.
    ///   - tags: The instance's tags.
    ///   - client: The agent's client.
    ///   - ttl: The check's TTL. Default 10 s.
    ///   - deregisterCriticalAfter: How long a critical instance stays registered. Default 1 minute.
    public init(
        service: String,
        address: String,
        port: Int,
        id: String? = nil,
        tags: [String] = [],
        client: ConsulClient,
        ttl: Duration = .seconds(10),
        deregisterCriticalAfter: Duration = .seconds(60)
    ) {
        self.registration = ConsulClient.Registration(
            id: id ?? "\(service)-\(address):\(port)",
            name: service,
            address: address,
            port: port,
            tags: tags,
            ttl: ttl,
            deregisterCriticalAfter: deregisterCriticalAfter
        )
        self.client = client
    }

    public func register() async throws {
        try await self.client.register(self.registration)
        // Consul's TTL checks start critical: pass it now, so the instance serves at once.
        try await self.client.passCheck(ofService: self.registration.id)
    }

    public func keepAlive() async throws {
        try await renewRegistration(ttl: self.registration.ttl) {
            do {
                try await self.client.passCheck(ofService: self.registration.id)
                return true
            } catch ConsulError.refused(status: 404, _) {
                return false  // the agent lost the check
            }
        }
    }

    public func deregister() async throws {
        try await self.client.deregister(service: self.registration.id)
    }
}
