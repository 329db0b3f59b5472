import AddService
import Foundation
import Kite
import KiteTelemetry
import KiteTestSupport
import KiteThrift
import Testing

/// addsvc over Thrift with go-kit's own IDL: go-kit's clients call Kite's addsvc unchanged, and
/// Kite's addsvc client calls a go-kit-IDL server.
@Suite("addsvc over Thrift, with go-kit's addsvc.thrift", .serialized, .enabled(if: Peers.isAvailable("python3")))
struct AddServiceThriftTests {
    @Test("a client generated from go-kit's addsvc.thrift calls Kite's addsvc: replies, and the service's errors in err", arguments: thriftCombinations)
    func goKitClientToKite(protocol: ThriftProtocol, transport: ThriftTransport) async throws {
        let pipeline = MemoryPipeline(serviceName: "addsvc")
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let server = ThriftEndpointServer.addService(
            AddEndpoints(service: BasicAddService(), telemetry: pipeline.telemetry),
            configuration: .init(host: "127.0.0.1", port: 0, serviceName: "AddService", protocol: `protocol`, transport: transport),
            telemetry: pipeline.telemetry
        ) { continuation.yield($0) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            defer { group.cancelAll() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let ok = try await PythonThrift.run(["addsvc", String(port), `protocol`.rawValue, transport.rawValue, "1", "2"])
            #expect((ok["sum"] as? [String: Any])?["value"] as? Int == 3)
            #expect((ok["sum"] as? [String: Any])?["err"] as? String == "")
            #expect((ok["concat"] as? [String: Any])?["value"] as? String == "12")
            let refused = try await PythonThrift.run(["addsvc", String(port), `protocol`.rawValue, transport.rawValue, "0", "0"])
            #expect((refused["sum"] as? [String: Any])?["err"] as? String == "can't sum two zeroes")
            #expect(pipeline.value(#"kite_endpoint_requests_total{endpoint="sum",outcome="business_error",error_type="AddServiceError"}"#) == 1)
        }
    }

    @Test("Kite's addsvc client calls a server generated from go-kit's addsvc.thrift; err comes back as the service's own error", arguments: thriftCombinations)
    func kiteClientToGoKitIDL(protocol: ThriftProtocol, transport: ThriftTransport) async throws {
        let peer = try await PythonThrift.serve("addsvc", protocol: `protocol`, transport: transport)
        defer { ChildStopper.stop(peer.process, signal: SIGKILL, grace: .zero) }
        let pipeline = MemoryPipeline(serviceName: "addcli")
        let connection = ThriftConnection(
            configuration: .init(host: "127.0.0.1", port: peer.port, serviceName: "AddService", protocol: `protocol`, transport: transport),
            telemetry: pipeline.telemetry
        )
        defer { connection.close() }
        let endpoints = AddEndpoints.thrift(connection)
        #expect(try await endpoints.sum(SumRequest(a: 20, b: 22)) == SumResponse(v: 42))
        #expect(try await endpoints.concat(ConcatRequest(a: "a", b: "b")) == ConcatResponse(v: "ab"))
        await #expect(throws: AddServiceError.twoZeroes) { _ = try await endpoints.sum(SumRequest(a: 0, b: 0)) }
    }
}
