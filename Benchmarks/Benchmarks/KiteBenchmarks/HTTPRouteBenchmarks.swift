import Benchmark
import HTTPTypes
import Kite
import KiteHTTP
import KiteTelemetry
import NIOCore

/// stringsvc's `uppercase` request and response.
struct RouteRequest: Codable, Sendable {
    var s: String
}

struct RouteResponse: Codable, Sendable {
    var v: String
    var err: String?
}

/// The per-request work of an HTTP route between the engine and the endpoint, without the
/// network or the HTTP/1 codec: the JSON body decoded, the endpoint called, the answer encoded.
func httpRouteBenchmarks() {
    Benchmark("HTTP route: JSON request decoded, endpoint called, JSON response encoded (the route's handler alone)", configuration: perCall()) {
        benchmark in
        let telemetry = makeTelemetry(sampler: ConstantSampler.alwaysOff, logLevel: .warning)
        var routes = HTTPRoutes(telemetry: telemetry)
        // Hidden from the optimiser, as an endpoint the application built elsewhere.
        routes.post("/uppercase", identity(Endpoint<RouteRequest, RouteResponse> { RouteResponse(v: $0.s, err: nil) }))
        guard let handler = routes.routes.first?.handler else { return }
        let request = HTTPServerRequest(
            head: HTTPRequest(method: .post, scheme: "http", authority: "127.0.0.1", path: "/uppercase"),
            body: ByteBuffer(string: #"{"s":"hello, world"}"#)
        )
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(await handler(request))
        }
    }
}
