import AddService
import Foundation
import Kite
import KiteGRPC
import KiteTelemetry
import KiteTestSupport
import ServiceLifecycle
import SwiftProtobuf
import Synchronization
import Testing

/// Kite's gRPC engine against a client that speaks the wire protocol by hand
/// (`Tests/Peers/grpc_wire.py`, HTTP/2 from the `h2` package): what grpcio never sends.
@Suite("gRPC engine on the wire")
struct GRPCWireTests {
    /// One line the wire client printed.
    struct Outcome: Decodable {
        var scenario: String
        var http_status: String?
        var grpc_status: String?
        var grpc_message: String?
        var value: Int?
        var held_at: Int?
        var total: Int?
        var reopened_while_held: Bool?
    }

    /// A server with `pb.Add/Sum` (which also releases the held reader), a `pb.Add/Concat` that
    /// never answers on its own (it counts the times it was cancelled), and a client-streaming
    /// `SumAll` whose reader takes one message and then waits for a release.
    final class Fixture: Sendable {
        let cancelled = Atomic<Int>(0)
        let (release, releaser) = AsyncStream<Void>.makeStream()

        func server(telemetry: Telemetry, onListening: @escaping @Sendable (Int) async -> Void) -> GRPCEndpointServer {
            let sum = Endpoint<SumRequest, SumResponse> { request in
                self.releaser.yield()
                return SumResponse(v: request.a + request.b)
            }
            let concat = Endpoint<ConcatRequest, ConcatResponse> { _ in
                do {
                    try await Task.sleep(for: .seconds(60))
                } catch {
                    self.cancelled.add(1, ordering: .relaxed)
                    throw error
                }
                return ConcatResponse(v: "late")
            }
            let sumAll = Endpoint<MessageStream<Int>, SumResponse> { numbers in
                var total = 0
                var first = true
                for try await number in numbers {
                    total += number
                    if first {
                        first = false
                        for await _ in self.release { break }
                    }
                }
                return SumResponse(v: total)
            }
            return GRPCEndpointServer(configuration: .init(host: "127.0.0.1", port: 0), telemetry: telemetry, onListening: onListening) { routes in
                routes.unary(
                    Pb_Add.Method.Sum.descriptor, sum,
                    decode: { (message: Pb_SumRequest) in SumRequest(a: Int(message.a), b: Int(message.b)) },
                    encode: { response in Pb_SumReply.with { $0.v = Int64(response.v) } }
                )
                routes.unary(
                    Pb_Add.Method.Concat.descriptor, concat,
                    decode: { (message: Pb_ConcatRequest) in ConcatRequest(a: message.a, b: message.b) },
                    encode: { response in Pb_ConcatReply.with { $0.v = response.v } }
                )
                routes.clientStreaming(
                    Kite_Addsvc_AddStream.Method.SumAll.descriptor, sumAll,
                    decode: { (message: Kite_Addsvc_Number) in Int(message.value) },
                    encode: { response in Pb_SumReply.with { $0.v = Int64(response.v) } }
                )
            }
        }
    }

    /// Runs the fixture's server while `body` runs.
    func withServer<T: Sendable>(_ fixture: Fixture, _ body: (Int, MemoryPipeline) async throws -> T) async throws -> T {
        let pipeline = MemoryPipeline(serviceName: "wire")
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let server = fixture.server(telemetry: pipeline.telemetry) { continuation.yield($0) }
        let group = ServiceGroup(configuration: .init(services: [.init(service: server)], logger: pipeline.telemetry.makeLogger(label: "kite.test")))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            defer { tasks.cancelAll() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let result = try await body(port, pipeline)
            await group.triggerGracefulShutdown()
            return result
        }
    }

    func wire(_ port: Int, _ scenario: String) async throws -> [String: Outcome] {
        let python = try Peers.require("python3")
        let check = try await runCommandAsync(python, ["-c", "import h2"])
        guard check.status == 0 else { throw Peers.PeerMissing(program: "python3 package h2") }
        let script = OTLPReceiver.peersDirectory.appendingPathComponent("grpc_wire.py").path
        let result = try await runCommandAsync(python, [script, String(port), scenario])
        #expect(result.status == 0, "grpc_wire.py: \(result.standardError)")
        var outcomes: [String: Outcome] = [:]
        for line in result.standardOutput.split(separator: "\n") {
            let outcome = try JSONDecoder().decode(Outcome.self, from: Data(line.utf8))
            outcomes[outcome.scenario] = outcome
        }
        return outcomes
    }

    @Test("calls that cannot be served get a clear status at once; a passed grpc-timeout and a reset cancel the call's work")
    func refusals() async throws {
        let fixture = Fixture()
        try await withServer(fixture) { port, pipeline in
            let outcomes = try await self.wire(port, "refusals")
            #expect(outcomes["get"]?.http_status == "405")
            #expect(outcomes["text_plain"]?.http_status == "415")
            #expect(outcomes["gzip"]?.grpc_status == "12")
            #expect(outcomes["gzip"]?.grpc_message?.contains("gzip") == true)
            #expect(outcomes["compressed_flag"]?.grpc_status == "13")
            #expect(outcomes["cut_off"]?.grpc_status == "13")
            #expect(outcomes["two_messages"]?.grpc_status == "3")
            #expect(outcomes["no_message"]?.grpc_status == "3")
            #expect(outcomes["deadline"]?.grpc_status == "4")
            #expect(outcomes["sum"]?.grpc_status == "0")
            #expect(outcomes["sum"]?.value == 3)
            #expect(outcomes["reset"] != nil)
            // Both the deadline and the reset cancelled the endpoint's task.
            try await waitUntil("both Concat calls to be cancelled") { fixture.cancelled.load(ordering: .relaxed) == 2 }
            #expect(pipeline.value(#"rpc_server_call_duration_seconds_count{rpc_system="grpc",rpc_service="pb.Add",rpc_method="Concat",rpc_grpc_status_code="4"}"#) == 1)
            #expect(pipeline.value(#"rpc_server_call_duration_seconds_count{rpc_system="grpc",rpc_service="pb.Add",rpc_method="Concat",rpc_grpc_status_code="1"}"#) == 1)
        }
    }

    @Test("a client stream whose reader is behind keeps the caller's window shut until it catches up; nothing is lost")
    func backpressure() async throws {
        let fixture = Fixture()
        try await withServer(fixture) { port, _ in
            let outcome = try #require(try await self.wire(port, "backpressure")["backpressure"])
            let total = try #require(outcome.total)
            // The caller was stopped by its window well before the end, and no WINDOW_UPDATE came
            // for the stream while the reader was held.
            #expect(try #require(outcome.held_at) < total)
            #expect(outcome.reopened_while_held == false)
            // Once released, every message arrived.
            #expect(outcome.grpc_status == "0")
            #expect(outcome.value == total)
        }
    }
}
