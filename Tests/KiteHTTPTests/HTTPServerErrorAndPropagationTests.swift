import Foundation
import Kite
import KiteHTTP
import KiteTelemetry
import KiteTestSupport
import Testing
import Tracing
import W3CTraceContext

/// Runs an ``HTTPServer`` with `routes` on a port the system picks, with an in-memory pipeline
/// configured by `environment`.
func withHTTPServer(
    environment: [String: String] = [:],
    routes: @escaping (inout HTTPRoutes, Telemetry) -> Void,
    _ body: (_ base: String, _ telemetry: Telemetry, _ spans: InMemorySpanExporter) async throws -> Void
) async throws {
    try await withHTTPServer(environment: environment, makeServer: { telemetry, onListening in
        HTTPServer(configuration: .init(host: "127.0.0.1", port: 0), telemetry: telemetry, onListening: onListening) {
            routes(&$0, telemetry)
        }
    }, body)
}

struct Echo: Codable, Sendable {
    var s: String
}

/// An error with no HTTP status of its own.
struct DiskOnFire: Error {}

@Suite("HTTP server: errors without a status, B3 propagation")
struct HTTPServerErrorAndPropagationTests {
    @Test("an error without an HTTP status is answered 500 with a JSON error, and recorded as a failure")
    func plainErrorIs500() async throws {
        try await withHTTPServer(routes: { routes, telemetry in
            routes.post("/fail", Endpoint { (_: Echo) -> Echo in throw DiskOnFire() }.instrumented("fail", telemetry))
        }) { base, telemetry, spans in
            let result = try await post("\(base)/fail", #"{"s":"x"}"#)
            #expect(result.status == 500)
            #expect(result.headers["content-type"] == "application/json")
            #expect(errorMessage(result) != nil, "\(result.text)")
            let text = String(decoding: telemetry.registry.render(format: .prometheusText), as: UTF8.self)
            #expect(text.contains(#"http_server_request_duration_seconds_count{http_request_method="POST",http_route="/fail",http_response_status_code="500"} 1"#))
            #expect(text.contains(#"kite_endpoint_requests_total{endpoint="fail",outcome="failure",error_type="DiskOnFire"} 1"#))
            await telemetry.forceFlush()
            let server = try #require(spans.exportedSpans.first { $0.name == "POST /fail" })
            #expect(server.status?.code == .error, "a 5xx is an error of the server span")
        }
    }

    @Test("with OTEL_PROPAGATORS=b3multi the server continues a caller's X-B3 headers", arguments: ["b3multi", "b3"])
    func b3Continues(propagator: String) async throws {
        try await withHTTPServer(environment: ["OTEL_PROPAGATORS": propagator], routes: { routes, telemetry in
            routes.post("/echo", Endpoint { (request: Echo) in request }.instrumented("echo", telemetry))
        }) { base, telemetry, spans in
            let traceID = "80f198ee56343ba864fe8b2a57d3eff7"
            let parentID = "e457b5a2e4d86bd1"
            let headers = propagator == "b3"
                ? ["b3": "\(traceID)-\(parentID)-1"]
                : ["X-B3-TraceId": traceID, "X-B3-SpanId": parentID, "X-B3-Sampled": "1"]
            let result = try await httpRequest("\(base)/echo", method: "POST", body: Data(#"{"s":"x"}"#.utf8), headers: headers)
            #expect(result.status == 200)
            await telemetry.forceFlush()
            let server = try #require(spans.exportedSpans.first { $0.name == "POST /echo" })
            #expect(server.context.traceID.description == traceID)
            #expect(server.context.parentSpanID?.description == parentID)
        }
    }
}
