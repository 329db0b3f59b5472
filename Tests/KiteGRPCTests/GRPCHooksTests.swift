import AddService
import Foundation
import GRPCCore
import Kite
import KiteGRPC
import KiteTelemetry
import KiteTestSupport
import Synchronization
import SwiftProtobuf
import Testing
import Tracing

@Suite("gRPC metadata hooks")
struct GRPCHooksTests {
    @Test("a client before hook's metadata reaches the server's before hook (a tenant into baggage); the client's after hook runs")
    func hooks() async throws {
        let pipeline = MemoryPipeline(serviceName: "hooks")
        let seenTenant = Mutex<String?>(nil)
        let echoTenant = Endpoint<SumRequest, SumResponse> { request in
            seenTenant.withLock { $0 = ServiceContext.current?.baggage?["tenant"] }
            return SumResponse(v: request.a + request.b)
        }
        let serverOptions = GRPCServerOptions(
            before: [{ metadata, context in
                if let tenant = metadata[stringValues: "x-tenant"].first(where: { _ in true }) {
                    var baggage = context.baggage ?? Baggage()
                    baggage["tenant"] = tenant
                    context.baggage = baggage
                }
            }],
            after: [{ trailing in trailing.addString("kite", forKey: "x-served-by") }]
        )
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let server = GRPCEndpointServer(
            configuration: .init(host: "127.0.0.1", port: 0),
            telemetry: pipeline.telemetry,
            onListening: { continuation.yield($0) }
        ) { routes in
            routes.unary(
                Pb_Add.Method.Sum.descriptor,
                echoTenant,
                decode: { (message: Pb_SumRequest) in SumRequest(a: Int(message.a), b: Int(message.b)) },
                encode: { response in Pb_SumReply.with { $0.v = Int64(response.v) } },
                options: serverOptions
            )
        }
        let afterCalls = Mutex(0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let connection = try GRPCConnection(configuration: .init(host: "127.0.0.1", port: port), telemetry: pipeline.telemetry)
            let sum = connection.unary(
                Pb_Add.Method.Sum.descriptor,
                encode: { (request: SumRequest) in Pb_SumRequest.with { $0.a = Int64(request.a); $0.b = Int64(request.b) } },
                decode: { (reply: Pb_SumReply) in SumResponse(v: Int(reply.v)) },
                options: GRPCClientOptions(
                    before: [{ metadata in metadata.addString("acme", forKey: "x-tenant") }],
                    after: [{ _ in afterCalls.withLock { $0 += 1 } }]
                )
            )
            let answer = try await withConnection(connection) { () async throws in try await sum(SumRequest(a: 1, b: 2)) }
            #expect(answer == SumResponse(v: 3))
            group.cancelAll()
        }
        #expect(seenTenant.withLock { $0 } == "acme")
        // The client's after hooks run once the server accepted the call.
        #expect(afterCalls.withLock { $0 } == 1)
    }
}
