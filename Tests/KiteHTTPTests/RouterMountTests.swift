import Foundation
import Hummingbird
import Kite
import KiteHTTP
import KiteTelemetry
import KiteTestSupport
import Testing

@Suite("Kite routes mounted in a Hummingbird application")
struct RouterMountTests {
    @Test("Kite routes and the application's own routes serve side by side")
    func mountIntoExistingRouter() async throws {
        var configuration = TelemetryConfiguration(serviceName: "mounted", environment: [:])
        configuration.logOutput = InMemoryLogOutput()
        configuration.scrapeListener = nil
        let telemetry = Telemetry(configuration: configuration)

        struct Echo: Codable, Sendable { var text: String }
        let echo = Endpoint<Echo, Echo> { $0 }.instrumented("echo", telemetry)
        var routes = HTTPRoutes(telemetry: telemetry)
        routes.post("/echo", echo)

        let router = Router()
        router.get("/health") { _, _ in "ok" }
        router.addKiteRoutes(routes, telemetry: telemetry, maxBodySize: 64)

        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let application = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await application.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let base = "http://127.0.0.1:\(port)"

            #expect(try await httpRequest("\(base)/health").text == "ok")
            let echoed = try await httpRequest("\(base)/echo", method: "POST", body: Data(#"{"text":"hi"}"#.utf8))
            #expect(echoed.status == 200)
            #expect(echoed.text == #"{"text":"hi"}"#)
            let tooLarge = try await httpRequest("\(base)/echo", method: "POST", body: Data(String(repeating: "x", count: 200).utf8))
            #expect(tooLarge.status == 413)
            let missing = try await httpRequest("\(base)/nothing")
            #expect(missing.status == 404)
            #expect(missing.headers["content-type"] == "application/json")

            let text = String(decoding: telemetry.registry.render(format: .prometheusText), as: UTF8.self)
            #expect(text.contains(#"http_server_request_duration_seconds_count{http_request_method="POST",http_route="/echo",http_response_status_code="200"} 1"#))
            #expect(text.contains(#"http_server_request_duration_seconds_count{http_request_method="POST",http_route="/echo",http_response_status_code="413"} 1"#))
            #expect(text.contains(#"kite_endpoint_requests_total{endpoint="echo",outcome="success",error_type=""} 1"#))
            group.cancelAll()
        }
    }
}
