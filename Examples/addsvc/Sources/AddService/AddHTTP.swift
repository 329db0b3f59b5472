import KiteHTTP
import KiteTelemetry
import Kite

extension HTTPServer {
    /// addsvc over HTTP, with go-kit's wire shapes: `POST /sum` `{"a":1,"b":2}` → `{"v":3}`,
    /// `POST /concat` `{"a":"x","b":"y"}` → `{"v":"xy"}`, errors as `{"error":"…"}` (plus Kite's
    /// `code`) with 400 for the service's errors, and `GET /metrics` on the same port.
    public static func addService(
        _ endpoints: AddEndpoints,
        configuration: HTTPServer.Configuration,
        telemetry: Telemetry,
        readiness: Readiness = Readiness(),
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> HTTPServer {
        HTTPServer(configuration: configuration, telemetry: telemetry, readiness: readiness, onListening: onListening) { routes in
            routes.post("/sum", endpoints.sum)
            routes.post("/concat", endpoints.concat)
            routes.metrics("/metrics")
        }
    }
}

extension AddEndpoints {
    /// The endpoints of an addsvc served over HTTP at `baseURL` (`http://127.0.0.1:8081`): the
    /// service's errors come back as ``AddServiceError``s.
    public static func http(_ transport: HTTPClientTransport, baseURL: String) -> AddEndpoints {
        let options = HTTPClientOptions(decodeError: RemoteError.matching(AddServiceError.self))
        return AddEndpoints(
            sum: transport.post(baseURL + "/sum", options: options),
            concat: transport.post(baseURL + "/concat", options: options)
        )
    }
}
