import ArgumentParser
import Kite
import KiteConsul
import KiteEtcd
import KiteTelemetry
import KiteZooKeeper
import ServiceLifecycle
import Synchronization

/// The discovery backends addsvc can register with (`--register`).
enum RegistryKind: String, ExpressibleByArgument, CaseIterable {
    case etcd, zookeeper, consul
}

/// The ports addsvc's servers listen on, once they do (a port of 0 is picked by the system).
final class ListeningPorts: Sendable {
    private let ports = Mutex<[String: Int]>([:])

    func set(_ transport: String, _ port: Int) {
        self.ports.withLock { $0[transport] = port }
    }

    func port(of transport: String) -> Int? {
        self.ports.withLock { $0[transport] }
    }
}

/// The registrations of addsvc's HTTP and gRPC addresses under one service name: one
/// ``RegistrationService`` per transport, each made once the servers listen.
///
/// - etcd: the keys `/kite/services/<name>/http://H:P` and `…/grpc://H:Q`, whose values are those
///   URLs, bound to a lease of `ttl`.
/// - Consul: two service instances of `<name>`, tagged `http` and `grpc`, with a TTL check of `ttl`.
/// - ZooKeeper: two ephemeral sequential nodes under `/kite/services/<name>` whose data are those
///   URLs, in a session of timeout `ttl` (so a killed addsvc's nodes go within it).
struct AddSvcRegistration {
    let kind: RegistryKind
    let registry: [String]
    let serviceName: String
    let host: String
    let ttl: Duration

    /// The services to run, in the order to list them after the servers: a backend client that must
    /// run (ZooKeeper's session) first, then the registrations.
    func services(ports: ListeningPorts, readiness: Readiness, telemetry: Telemetry) throws -> [any Service] {
        let make: @Sendable (_ transport: String, _ port: Int) throws -> any Registrar
        var clients: [any Service] = []
        let serviceName = self.serviceName
        let host = self.host
        let ttl = self.ttl
        switch self.kind {
        case .etcd:
            let client = try EtcdClient(endpoints: self.registry)
            make = { transport, port in
                EtcdRegistrar(service: serviceName, instance: "\(transport)://\(host):\(port)", client: client, ttl: ttl)
            }
        case .consul:
            guard let agent = self.registry.first else { throw ValidationError("--registry needs the Consul agent's URL") }
            let client = try ConsulClient(agent: agent)
            make = { transport, port in
                ConsulRegistrar(
                    service: serviceName,
                    address: host,
                    port: port,
                    id: "\(serviceName)-\(transport)-\(host):\(port)",
                    tags: [transport],
                    client: client,
                    ttl: ttl
                )
            }
        case .zookeeper:
            let client = try ZooKeeperClient(servers: self.registry.joined(separator: ","), sessionTimeout: ttl, telemetry: telemetry)
            clients.append(client)
            make = { transport, port in
                ZooKeeperRegistrar(service: serviceName, instance: "\(transport)://\(host):\(port)", client: client)
            }
        }
        return clients + ["http", "grpc"].map { transport in
            RegistrationService(readiness: readiness, telemetry: telemetry) {
                guard let port = ports.port(of: transport) else {
                    throw ValidationError("the \(transport) server reported no port")
                }
                return try make(transport, port)
            }
        }
    }
}
