import HTTPTypes
import KiteHTTP
import KiteTelemetry

extension HTTPServer {
    /// stringsvc over HTTP: `POST /uppercase`, `POST /count`, and `GET /metrics` on the same port.
    public static func stringService(
        _ endpoints: StringEndpoints,
        configuration: HTTPServer.Configuration,
        telemetry: Telemetry,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> HTTPServer {
        HTTPServer(configuration: configuration, telemetry: telemetry, onListening: onListening) { routes in
            routes.post("/uppercase", endpoints.uppercase)
            routes.post("/count", endpoints.count)
            routes.metrics("/metrics")
        }
    }
}
