import AddService
import Foundation
import Kite
import KiteGRPC
import KiteHTTP
import KiteTelemetry
import ServiceLifecycle

/// addsvc's two methods as endpointers over the discovered instances, for one upstream transport.
struct GatewayUpstream {
    let sum: Endpointer<SumRequest, SumResponse>
    let concat: Endpointer<ConcatRequest, ConcatResponse>
    /// What must run in the service group: the HTTP client (for HTTP) and the endpointers.
    let services: [any Service]

    init(kind: APIGateway.Upstream, instancer: some Instancer, telemetry: Telemetry) throws {
        switch kind {
        case .http:
            let transport = HTTPClientTransport(telemetry: telemetry)
            self.sum = Endpointer(instancer, telemetry: telemetry) { instance in
                Self.address(of: instance, scheme: "http").map {
                    InstanceEndpoint(AddEndpoints.http(transport, baseURL: "http://\($0)").sum)
                }
            }
            self.concat = Endpointer(instancer, telemetry: telemetry) { instance in
                Self.address(of: instance, scheme: "http").map {
                    InstanceEndpoint(AddEndpoints.http(transport, baseURL: "http://\($0)").concat)
                }
            }
            self.services = [transport, self.sum, self.concat]
        case .grpc:
            // One connection per instance and method; it runs until the instance leaves.
            self.sum = Endpointer(instancer, telemetry: telemetry) { instance in
                try Self.address(of: instance, scheme: "grpc").map { address in
                    try Self.connected(address, telemetry: telemetry) { AddEndpoints.grpc($0).sum }
                }
            }
            self.concat = Endpointer(instancer, telemetry: telemetry) { instance in
                try Self.address(of: instance, scheme: "grpc").map { address in
                    try Self.connected(address, telemetry: telemetry) { AddEndpoints.grpc($0).concat }
                }
            }
            self.services = [self.sum, self.concat]
        }
    }

    /// The `host:port` of `instance` for `scheme`: an instance written as a URL of another scheme
    /// is not for this upstream (`nil`); a bare `host:port` is for any.
    static func address(of instance: String, scheme: String) -> String? {
        guard let separator = instance.range(of: "://") else { return instance }
        return instance[..<separator.lowerBound] == scheme ? String(instance[separator.upperBound...]) : nil
    }

    /// A gRPC connection to `address`, running until the endpointer closes the instance's endpoint.
    static func connected<Request: Sendable, Response: Sendable>(
        _ address: String,
        telemetry: Telemetry,
        _ endpoint: (GRPCConnection) -> Endpoint<Request, Response>
    ) throws -> InstanceEndpoint<Request, Response> {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else {
            throw GRPCServerError.portOutOfRange(-1)
        }
        var host = String(address[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let connection = try GRPCConnection(configuration: .init(host: host, port: port), telemetry: telemetry)
        let running = Task { try await connection.run() }
        return InstanceEndpoint(endpoint(connection)) {
            connection.close()
            _ = try? await running.value
        }
    }
}
