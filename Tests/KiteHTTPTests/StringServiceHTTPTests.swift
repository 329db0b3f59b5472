import Foundation
import KiteHTTP
import KiteTelemetry
import KiteTestSupport
import StringService
import Testing
import Tracing
import W3CTraceContext

/// Runs the server `makeServer` builds in this process on a port the system picks, with an
/// in-memory pipeline configured by `environment`.
func withHTTPServer(
    environment: [String: String] = [:],
    makeServer: (Telemetry, _ onListening: @escaping @Sendable (Int) async -> Void) -> HTTPServer,
    _ body: (_ base: String, _ telemetry: Telemetry, _ spans: InMemorySpanExporter) async throws -> Void
) async throws {
    let spans = InMemorySpanExporter()
    var configuration = TelemetryConfiguration(serviceName: "stringsvc", environment: environment)
    configuration.tracesExporter = .custom(spans)
    configuration.logOutput = InMemoryLogOutput()
    configuration.scrapeListener = nil
    let telemetry = Telemetry(configuration: configuration)
    let (ports, portContinuation) = AsyncStream<Int>.makeStream()
    let server = makeServer(telemetry) { port in portContinuation.yield(port) }
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.run() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        try await body("http://127.0.0.1:\(port)", telemetry, spans)
        group.cancelAll()
    }
}

/// Runs stringsvc in this process on a port the system picks, with an in-memory pipeline.
func withStringService(
    maxBodySize: Int = 1 << 20,
    _ body: (_ base: String, _ telemetry: Telemetry, _ spans: InMemorySpanExporter) async throws -> Void
) async throws {
    try await withHTTPServer(makeServer: { telemetry, onListening in
        HTTPServer.stringService(
            StringEndpoints(service: BasicStringService(), telemetry: telemetry),
            configuration: .init(host: "127.0.0.1", port: 0, maxBodySize: maxBodySize),
            telemetry: telemetry,
            onListening: onListening
        )
    }, body)
}

func post(_ url: String, _ json: String) async throws -> HTTPResult {
    try await httpRequest(url, method: "POST", body: Data(json.utf8), headers: ["Content-Type": "application/json"])
}

func errorMessage(_ result: HTTPResult) -> String? {
    (try? JSONSerialization.jsonObject(with: result.body) as? [String: String])?["error"]
}

@Suite("stringsvc over HTTP")
struct StringServiceHTTPTests {
    @Test("uppercase and count answer JSON")
    func happyPath() async throws {
        try await withStringService { base, _, _ in
            let upper = try await post("\(base)/uppercase", #"{"s":"hello, world"}"#)
            #expect(upper.status == 200)
            #expect(upper.headers["content-type"] == "application/json")
            #expect(upper.text == #"{"v":"HELLO, WORLD"}"#)
            let count = try await post("\(base)/count", #"{"s":"héllo"}"#)
            #expect(count.text == #"{"v":5}"#)
        }
    }

    @Test("bad input gets a clear JSON error, and each shows in /metrics with the right labels")
    func badInput() async throws {
        try await withStringService(maxBodySize: 1024) { base, _, _ in
            let malformed = try await post("\(base)/uppercase", #"{"s": "#)
            #expect(malformed.status == 400)
            #expect(errorMessage(malformed) == "malformed request: body is not valid JSON")

            let missing = try await post("\(base)/uppercase", #"{"t":"x"}"#)
            #expect(missing.status == 400)
            #expect(errorMessage(missing) == "malformed request: missing field 's'")

            let empty = try await post("\(base)/count", #"{"s":""}"#)
            #expect(empty.status == 400)
            #expect(errorMessage(empty) == "empty string")

            let oversized = try await post("\(base)/uppercase", #"{"s":""# + String(repeating: "a", count: 4096) + #""}"#)
            #expect(oversized.status == 413)
            #expect(errorMessage(oversized) == "request body is larger than 1024 bytes")

            let unknown = try await post("\(base)/lowercase", #"{"s":"x"}"#)
            #expect(unknown.status == 404)
            #expect(errorMessage(unknown) == "no route for POST /lowercase")

            let metrics = try await httpRequest("\(base)/metrics")
            #expect(metrics.status == 200)
            let text = metrics.text
            func count(_ route: String, _ status: Int) -> String {
                #"http_server_request_duration_seconds_count{http_request_method="POST",http_route="\#(route)",http_response_status_code="\#(status)"}"#
            }
            #expect(text.contains(count("/uppercase", 400) + " 2\n"))
            #expect(text.contains(count("/count", 400) + " 1\n"))
            #expect(text.contains(count("/uppercase", 413) + " 1\n"))
            #expect(text.contains(count("", 404) + " 1\n"))
            #expect(text.contains(#"kite_endpoint_requests_total{endpoint="count",outcome="business_error",error_type="StringServiceError"} 1"#))
            // Malformed and oversized bodies never reach the endpoint.
            #expect(!text.contains(#"kite_endpoint_requests_total{endpoint="uppercase",outcome="business_error""#))
        }
    }

    @Test("a caller's traceparent continues: the server span has its trace id and parent")
    func traceContinues() async throws {
        try await withStringService { base, telemetry, spans in
            let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
            let parentID = "00f067aa0ba902b7"
            let result = try await httpRequest(
                "\(base)/uppercase",
                method: "POST",
                body: Data(#"{"s":"x"}"#.utf8),
                headers: ["traceparent": "00-\(traceID)-\(parentID)-01"]
            )
            #expect(result.status == 200)
            let broken = try await httpRequest(
                "\(base)/uppercase",
                method: "POST",
                body: Data(#"{"s":"y"}"#.utf8),
                headers: ["traceparent": "00-\(traceID)-\(parentID)-zz"]
            )
            #expect(broken.status == 200)
            await telemetry.forceFlush()
            let server = try #require(spans.exportedSpans.first { $0.name == "POST /uppercase" && $0.context.traceID.description == traceID })
            #expect(server.kind == .server)
            #expect(server.context.parentSpanID?.description == parentID)
            #expect(server.attributes.get("http.response.status_code") == .int64(200))
            let endpoint = try #require(spans.exportedSpans.first { $0.name == "uppercase" && $0.context.traceID.description == traceID })
            #expect(endpoint.context.parentSpanID == server.context.spanID)
            let roots = spans.exportedSpans.filter { $0.name == "POST /uppercase" && $0.context.parentSpanID == nil }
            #expect(roots.count == 1, "the malformed traceparent started a new root trace")
        }
    }
}
