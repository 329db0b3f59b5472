import AddService
import Foundation
import SwiftProtobuf
import Kite
import KiteGRPC
import KiteTelemetry
import KiteTestSupport
import ServiceLifecycle
import Testing

@Suite("gRPC server graceful shutdown")
struct GRPCGracefulShutdownTests {
    @Test("a call in flight when shutdown begins is answered, and the service turns not ready at once")
    func inFlightFinishes() async throws {
        let pipeline = MemoryPipeline(serviceName: "shutdown")
        let (arrived, arrival) = AsyncStream<Void>.makeStream()
        let (release, releaser) = AsyncStream<Void>.makeStream()
        let slowSum = Endpoint<SumRequest, SumResponse> { request in
            arrival.yield()
            for await _ in release { break }
            return SumResponse(v: request.a + request.b)
        }
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let server = GRPCEndpointServer(
            configuration: .init(host: "127.0.0.1", port: 0),
            telemetry: pipeline.telemetry,
            onListening: { continuation.yield($0) }
        ) { routes in
            routes.unary(
                Pb_Add.Method.Sum.descriptor,
                slowSum,
                decode: { (message: Pb_SumRequest) in SumRequest(a: Int(message.a), b: Int(message.b)) },
                encode: { response in Pb_SumReply.with { $0.v = Int64(response.v) } }
            )
        }
        let group = ServiceGroup(configuration: .init(services: [.init(service: server)], logger: pipeline.telemetry.makeLogger(label: "kite.test")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            #expect(server.readiness.isReady)
            let connection = try GRPCConnection(configuration: .init(host: "127.0.0.1", port: port), telemetry: pipeline.telemetry)
            let sum = AddEndpoints.grpc(connection).sum
            try await withConnection(connection) { () async throws in
                async let answer = sum(SumRequest(a: 40, b: 2))
                for await _ in arrived { break }
                await group.triggerGracefulShutdown()
                try await waitUntil("the service to turn not ready") { !server.readiness.isReady }
                releaser.yield()
                #expect(try await answer == SumResponse(v: 42))
            }
            try await tasks.next()  // the group ends once the call is answered
        }
    }
}
