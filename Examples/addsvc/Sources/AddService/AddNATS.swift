import Kite
import KiteNATS
import KiteTelemetry

extension NATSEndpointServer {
    /// The subjects addsvc answers on: `addsvc.sum` and `addsvc.concat`.
    public static let addServiceSubjects = (sum: "addsvc.sum", concat: "addsvc.concat")

    /// addsvc over NATS request/reply, with the HTTP routes' JSON bodies: `addsvc.sum`
    /// `{"a":1,"b":2}` → `{"v":3}`, `addsvc.concat` `{"a":"x","b":"y"}` → `{"v":"xy"}`, in the
    /// queue group `addsvc` (instances share the load). Errors come back in the
    /// `Nats-Service-Error`/`Kite-Error-Code` headers with a `{"error":…,"code":…}` body.
    public static func addService(
        _ endpoints: AddEndpoints,
        client: NATSClient,
        telemetry: Telemetry,
        readiness: Readiness = Readiness(),
        queueGroup: String = "addsvc"
    ) -> NATSEndpointServer {
        NATSEndpointServer(client: client, configuration: .init(queueGroup: queueGroup), telemetry: telemetry, readiness: readiness) { routes in
            routes.respond(Self.addServiceSubjects.sum, endpoints.sum)
            routes.respond(Self.addServiceSubjects.concat, endpoints.concat)
        }
    }
}

extension AddEndpoints {
    /// The endpoints of an addsvc served over NATS through `client`: the service's errors come
    /// back as ``AddServiceError``s.
    public static func nats(_ client: NATSClient, timeout: Duration = .seconds(5)) -> AddEndpoints {
        let options = NATSRequestOptions(timeout: timeout, decodeError: RemoteError.matching(AddServiceError.self))
        return AddEndpoints(
            sum: client.endpoint(NATSEndpointServer.addServiceSubjects.sum, options: options),
            concat: client.endpoint(NATSEndpointServer.addServiceSubjects.concat, options: options)
        )
    }
}
