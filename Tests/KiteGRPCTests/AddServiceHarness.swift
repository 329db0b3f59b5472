import AddService
import Foundation
import Kite
import KiteGRPC
import KiteHTTP
import KiteTelemetry
import KiteTestSupport
import Logging
import Testing
import Tracing

/// addsvc served in this process over HTTP and gRPC at ports the system picks.
struct RunningAddService: Sendable {
    let pipeline: MemoryPipeline
    let httpPort: Int
    let grpcPort: Int
    let readiness: Readiness

    var httpBase: String { "http://127.0.0.1:\(self.httpPort)" }
}

/// Runs addsvc in this process for the duration of `body`.
func withAddService(
    serviceName: String = "addsvc",
    grpcConfiguration: GRPCEndpointServer.Configuration = .init(host: "127.0.0.1", port: 0),
    _ body: (RunningAddService) async throws -> Void
) async throws {
    let pipeline = MemoryPipeline(serviceName: serviceName)
    let service = BasicAddService()
    let endpoints = AddEndpoints(service: service, telemetry: pipeline.telemetry)
    let streaming = AddStreamEndpoints(service: service, telemetry: pipeline.telemetry)
    let readiness = Readiness()
    let (ports, continuation) = AsyncStream<(String, Int)>.makeStream()
    let http = HTTPServer.addService(
        endpoints,
        configuration: .init(host: "127.0.0.1", port: 0),
        telemetry: pipeline.telemetry,
        readiness: readiness
    ) { continuation.yield(("http", $0)) }
    var grpcConfiguration = grpcConfiguration
    grpcConfiguration.port = 0
    let grpc = GRPCEndpointServer.addService(
        endpoints,
        streaming: streaming,
        configuration: grpcConfiguration,
        telemetry: pipeline.telemetry,
        readiness: readiness
    ) { continuation.yield(("grpc", $0)) }
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await http.run() }
        group.addTask { try await grpc.run() }
        var bound: [String: Int] = [:]
        for await (transport, port) in ports {
            bound[transport] = port
            if bound.count == 2 { break }
        }
        try await body(RunningAddService(
            pipeline: pipeline,
            httpPort: try #require(bound["http"]),
            grpcPort: try #require(bound["grpc"]),
            readiness: readiness
        ))
        group.cancelAll()
    }
}

/// Runs `connection` for the duration of `body`, then closes it.
func withConnection<T: Sendable>(_ connection: GRPCConnection, _ body: () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await connection.run() }
        defer { connection.close() }
        return try await body()
    }
}

/// A W3C `traceparent` with fresh random ids, and its parts.
struct TestTraceParent {
    let traceID: String
    let spanID: String

    init() {
        func hex(_ bytes: Int) -> String {
            (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 1...255)) }.joined()
        }
        self.traceID = hex(16)
        self.spanID = hex(8)
    }

    var header: String { "00-\(self.traceID)-\(self.spanID)-01" }
}
