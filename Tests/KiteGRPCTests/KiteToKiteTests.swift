import AddService
import AsyncAlgorithms
import Foundation
import Instrumentation
import W3CTraceContext
import SwiftProtobuf
import Synchronization
import Kite
import KiteGRPC
import KiteHTTP
import KiteTelemetry
import KiteTestSupport
import Testing
import Tracing

@Suite("Kite clients calling Kite services: one trace, typed errors, RED metrics per hop")
struct KiteToKiteTests {
    @Test("over HTTP: the server span's parent is the client span, and a business error comes back as the service's own")
    func http() async throws {
        try await withAddService { addsvc in
            let caller = MemoryPipeline(serviceName: "caller")
            let transport = HTTPClientTransport(telemetry: caller.telemetry)
            let endpoints = AddEndpoints.http(transport, baseURL: addsvc.httpBase)
            #expect(try await endpoints.sum(SumRequest(a: 1, b: 2)) == SumResponse(v: 3))
            #expect(try await endpoints.concat(ConcatRequest(a: "x", b: "y")) == ConcatResponse(v: "xy"))
            await #expect(throws: AddServiceError.integerOverflow) {
                _ = try await endpoints.sum(SumRequest(a: .max, b: 1))
            }
            try await transport.shutdown()

            let clientSpans = await caller.flushedSpans()
            let serverSpans = await addsvc.pipeline.flushedSpans()
            let client = try #require(clientSpans.first { $0.kind == .client && $0.attributes.get("http.response.status_code") == .int64(200) })
            #expect(client.name == "POST")
            #expect(client.attributes.get("server.address") == .string("127.0.0.1"))
            let server = try #require(serverSpans.first { $0.name == "POST /sum" && $0.context.traceID == client.context.traceID })
            #expect(server.context.parentSpanID == client.context.spanID)

            let failed = try #require(clientSpans.first { $0.attributes.get("http.response.status_code") == .int64(400) })
            #expect(failed.attributes.get("error.type") == .string("400"))
            #expect(failed.status?.code != .error)

            #expect(caller.value(#"http_client_request_duration_seconds_count{http_request_method="POST",server_address="127.0.0.1",http_response_status_code="200",error_type=""}"#) == 2)
            #expect(caller.value(#"http_client_request_duration_seconds_count{http_request_method="POST",server_address="127.0.0.1",http_response_status_code="400",error_type="400"}"#) == 1)
        }
    }

    /// After `Telemetry.bootstrap`, AsyncHTTPClient would take Kite's tracer as its own and add
    /// a second client span under Kite's, sending that one's context. Exit test: bootstrapping is
    /// once per process.
    @Test("with Kite bootstrapped, an HTTP call makes one client span, and the server's parent is that span")
    func oneClientSpanWhenBootstrapped() async {
        await #expect(processExitsWith: .success) {
            let caller = MemoryPipeline.bootstrapped(serviceName: "caller")
            var result = false
            try? await withAddService { addsvc in
                let transport = HTTPClientTransport(telemetry: caller.telemetry)
                let endpoints = AddEndpoints.http(transport, baseURL: addsvc.httpBase)
                guard (try? await endpoints.sum(SumRequest(a: 1, b: 2))) == SumResponse(v: 3) else { return }
                try? await transport.shutdown()
                let clients = await caller.flushedSpans().filter { $0.kind == .client }
                let servers = await addsvc.pipeline.flushedSpans().filter { $0.name == "POST /sum" }
                result = clients.count == 1 && servers.count == 1
                    && servers[0].context.parentSpanID == clients[0].context.spanID
            }
            exit(result ? 0 : 1)
        }
    }

    @Test("both clients send version-00 traceparents under the caller's trace and pass its tracestate on", arguments: ["http", "grpc"])
    func clientsPropagate(transport: String) async throws {
        try await withAddService { addsvc in
            let caller = MemoryPipeline(serviceName: "caller")
            // The caller is itself inside a trace that arrived with a tracestate.
            var context = ServiceContext.topLevel
            caller.telemetry.tracer.extract(
                ["traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "tracestate": "rojo=1,congo=2"],
                into: &context,
                using: HeaderDictionaryExtractor()
            )
            let http = HTTPClientTransport(telemetry: caller.telemetry)
            let connection = try GRPCConnection(configuration: .init(host: "127.0.0.1", port: addsvc.grpcPort), telemetry: caller.telemetry)
            let endpoints = transport == "http" ? AddEndpoints.http(http, baseURL: addsvc.httpBase) : AddEndpoints.grpc(connection)
            try await withConnection(connection) { () async throws in
                _ = try await ServiceContext.$current.withValue(context) { try await endpoints.sum(SumRequest(a: 1, b: 2)) }
            }
            try await http.shutdown()
            let client = try #require(await caller.flushedSpans().first { $0.kind == .client })
            let server = try #require(await addsvc.pipeline.flushedSpans().first { $0.kind == .server })
            #expect(client.context.traceID.description == "4bf92f3577b34da6a3ce929d0e0e4736")
            #expect(server.context.traceID == client.context.traceID)
            #expect(server.context.parentSpanID == client.context.spanID)
            #expect(server.context.traceState.map { "\($0.vendor.rawValue)=\($0.value)" } == ["rojo=1", "congo=2"])
        }
    }

    @Test("an HTTP client endpoint keeps its transport alive: made from a transport nobody else holds, it still calls")
    func endpointOutlivesTransportVariable() async throws {
        try await withAddService { addsvc in
            let caller = MemoryPipeline(serviceName: "caller")
            let sum: Endpoint<SumRequest, SumResponse> = HTTPClientTransport(telemetry: caller.telemetry).post("\(addsvc.httpBase)/sum")
            let answer = try await sum(SumRequest(a: 2, b: 3))
            #expect(answer == SumResponse(v: 5))
        }
    }

    @Test("over HTTP: a refused connection and a timeout are failures with their codes; the finalizer sees every call")
    func httpFailures() async throws {
        let caller = MemoryPipeline(serviceName: "caller")
        let transport = HTTPClientTransport(telemetry: caller.telemetry)
        let summaries = SummaryLog()
        let refusedPort = try freePort()
        let refused: Endpoint<SumRequest, SumResponse> = transport.post(
            "http://127.0.0.1:\(refusedPort)/sum",
            options: HTTPClientOptions(finalizer: [{ summaries.append($0) }])
        )
        do {
            _ = try await refused(SumRequest(a: 1, b: 2))
            Issue.record("a call to a closed port succeeded")
        } catch let error as RemoteError {
            #expect(error.code == .unavailable)
            #expect(CallOutcome(of: error) == .failure)
        }
        // A deadline already passed: the call is not even made.
        var context = ServiceContext.topLevel
        context.deadline = .now
        await #expect(throws: RemoteError.self) {
            try await ServiceContext.$current.withValue(context) { _ = try await refused(SumRequest(a: 1, b: 2)) }
        }
        try await transport.shutdown()
        #expect(summaries.all.count == 2)
        #expect(summaries.all.allSatisfy { $0.status == nil && $0.error != nil })
        let spans = await caller.flushedSpans()
        #expect(spans.filter { $0.status?.code == .error }.count == 2)
        #expect(caller.value(#"http_client_request_duration_seconds_count{http_request_method="POST",server_address="127.0.0.1",http_response_status_code="",error_type="UNAVAILABLE"}"#) == 1)
        #expect(caller.value(#"http_client_request_duration_seconds_count{http_request_method="POST",server_address="127.0.0.1",http_response_status_code="",error_type="DEADLINE_EXCEEDED"}"#) == 1)
    }

    @Test("over gRPC: unary and every streaming kind through Kite's client; the server span's parent is the client span")
    func grpc() async throws {
        try await withAddService { addsvc in
            let caller = MemoryPipeline(serviceName: "caller")
            let connection = try GRPCConnection(configuration: .init(host: "127.0.0.1", port: addsvc.grpcPort), telemetry: caller.telemetry)
            let endpoints = AddEndpoints.grpc(connection)
            let streams = AddStreamEndpoints.grpc(connection)
            try await withConnection(connection) { () async throws in
                #expect(try await endpoints.sum(SumRequest(a: 1, b: 2)) == SumResponse(v: 3))
                await #expect(throws: AddServiceError.maxSizeExceeded) {
                    _ = try await endpoints.concat(ConcatRequest(a: "hello", b: "worldwide"))
                }
                #expect(try await streams.runningSum(1...4).collect().map(\.v) == [1, 3, 6, 10])
                #expect(try await streams.sumAll(MessageStream([1, 2, 3, 4])) == SumResponse(v: 10))
                let pairs = MessageStream([SumRequest(a: 1, b: 10), SumRequest(a: 2, b: 20)])
                #expect(try await streams.sumEach(pairs).collect().map(\.v) == [11, 22])
                // An error in the middle of a stream arrives through the stream, as the service's error.
                await #expect(throws: AddServiceError.integerOverflow) {
                    _ = try await streams.runningSum((Int.max - 2)...Int.max).collect()
                }
            }
            let clientSpans = await caller.flushedSpans()
            let serverSpans = await addsvc.pipeline.flushedSpans()
            let client = try #require(clientSpans.first { $0.name == "pb.Add/Sum" })
            #expect(client.kind == .client)
            let server = try #require(serverSpans.first { $0.name == "pb.Add/Sum" })
            #expect(server.context.traceID == client.context.traceID)
            #expect(server.context.parentSpanID == client.context.spanID)
            // OpenTelemetry's RPC attributes, the caller's address among them.
            #expect(server.kind == .server)
            #expect(server.attributes.get("rpc.system") == .string("grpc"))
            #expect(server.attributes.get("rpc.grpc.status_code") == .int64(0))
            #expect(server.attributes.get("network.peer.address") == .string("127.0.0.1"))
            if case .int64(let port)? = server.attributes.get("network.peer.port") {
                #expect(port > 0 && port != Int64(addsvc.grpcPort))
            } else {
                Issue.record("the server span has no network.peer.port")
            }
            let streamClient = try #require(clientSpans.first { $0.name == "kite.addsvc.AddStream/SumEach" })
            #expect(streamClient.events.filter { $0.attributes.get("rpc.message.type") == .string("SENT") }.count == 2)
            #expect(streamClient.events.filter { $0.attributes.get("rpc.message.type") == .string("RECEIVED") }.count == 2)
            #expect(caller.value(#"rpc_client_call_duration_seconds_count{rpc_system="grpc",rpc_service="pb.Add",rpc_method="Concat",rpc_grpc_status_code="11"}"#) == 1)
        }
    }

    @Test("a server stream dropped by its reader cancels the call on both sides")
    func droppedStream() async throws {
        // A stream that would tick for hours: only the reader leaving can end it.
        let server = MemoryPipeline(serviceName: "ticker")
        let ticks = Endpoint<ClosedRange<Int>, MessageStream<SumResponse>> { range in
            MessageStream(range.async.map { value in
                try await Task.sleep(for: .milliseconds(5))
                return SumResponse(v: value)
            })
        }
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let grpc = GRPCEndpointServer(
            configuration: .init(host: "127.0.0.1", port: 0),
            telemetry: server.telemetry,
            onListening: { continuation.yield($0) }
        ) { routes in
            routes.serverStreaming(
                Kite_Addsvc_AddStream.Method.RunningSum.descriptor,
                ticks,
                decode: { (message: Kite_Addsvc_RangeRequest) in Int(message.from)...Int(message.to) },
                encode: { response in Pb_SumReply.with { $0.v = Int64(response.v) } }
            )
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await grpc.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let caller = MemoryPipeline(serviceName: "caller")
            let connection = try GRPCConnection(configuration: .init(host: "127.0.0.1", port: port), telemetry: caller.telemetry)
            let streams = AddStreamEndpoints.grpc(connection)
            try await withConnection(connection) { () async throws in
                #expect(try await Self.firstTwo(of: streams.runningSum(1...1_000_000_000)) == [1, 2])
                try await waitUntil("the server to record the cancelled stream") {
                    server.value(#"rpc_server_call_duration_seconds_count{rpc_system="grpc",rpc_service="kite.addsvc.AddStream",rpc_method="RunningSum",rpc_grpc_status_code="1"}"#) == 1
                }
            }
            #expect(caller.value(#"rpc_client_call_duration_seconds_count{rpc_system="grpc",rpc_service="kite.addsvc.AddStream",rpc_method="RunningSum",rpc_grpc_status_code="1"}"#) == 1)
            group.cancelAll()
        }
    }

    /// Reads two replies and drops the stream (in a scope of its own, so that it is released here).
    private static func firstTwo(of stream: MessageStream<SumResponse>) async throws -> [Int] {
        var replies: [Int] = []
        for try await reply in stream {
            replies.append(reply.v)
            if replies.count == 2 { break }
        }
        return replies
    }

    @Test("three hops — HTTP client → HTTP service → gRPC service — form one trace, and each hop's /metrics has its RED metrics")
    func threeHops() async throws {
        try await withAddService { addsvc in
            // The middle service: `POST /double-sum` sums twice through addsvc over gRPC.
            let middle = MemoryPipeline(serviceName: "gateway")
            let connection = try GRPCConnection(configuration: .init(host: "127.0.0.1", port: addsvc.grpcPort), telemetry: middle.telemetry)
            let remote = AddEndpoints.grpc(connection)
            let doubleSum = Endpoint<SumRequest, SumResponse> { request in
                let once = try await remote.sum(request)
                return try await remote.sum(SumRequest(a: once.v, b: once.v))
            }
            .instrumented("double_sum", middle.telemetry)
            let (ports, continuation) = AsyncStream<Int>.makeStream()
            let gateway = HTTPServer(
                configuration: .init(host: "127.0.0.1", port: 0),
                telemetry: middle.telemetry,
                onListening: { continuation.yield($0) }
            ) { routes in
                routes.post("/double-sum", doubleSum)
                routes.metrics()
            }

            let caller = MemoryPipeline(serviceName: "caller")
            let transport = HTTPClientTransport(telemetry: caller.telemetry)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await gateway.run() }
                group.addTask { try await connection.run() }
                var iterator = ports.makeAsyncIterator()
                let port = try #require(await iterator.next())
                let call: Endpoint<SumRequest, SumResponse> = transport.post("http://127.0.0.1:\(port)/double-sum")
                #expect(try await call(SumRequest(a: 1, b: 2)) == SumResponse(v: 6))

                let gatewayMetrics = try await httpRequest("http://127.0.0.1:\(port)/metrics").text
                #expect(gatewayMetrics.contains(#"kite_endpoint_requests_total{endpoint="double_sum",outcome="success",error_type=""} 1"#))
                #expect(gatewayMetrics.contains(#"http_server_request_duration_seconds_count{http_request_method="POST",http_route="/double-sum",http_response_status_code="200"} 1"#))
                #expect(gatewayMetrics.contains(#"rpc_client_call_duration_seconds_count{rpc_system="grpc",rpc_service="pb.Add",rpc_method="Sum",rpc_grpc_status_code="0"} 2"#))
                let addsvcMetrics = try await httpRequest("\(addsvc.httpBase)/metrics").text
                #expect(addsvcMetrics.contains(#"kite_endpoint_requests_total{endpoint="sum",outcome="success",error_type=""} 2"#))
                #expect(addsvcMetrics.contains(#"rpc_server_call_duration_seconds_count{rpc_system="grpc",rpc_service="pb.Add",rpc_method="Sum",rpc_grpc_status_code="0"} 2"#))
                connection.close()
                group.cancelAll()
            }
            try await transport.shutdown()

            let first = try #require(await caller.flushedSpans().first { $0.kind == .client })
            let hops = await middle.flushedSpans() + addsvc.pipeline.flushedSpans()
            // The gateway's server span and double_sum, two client calls, two server calls, two sums.
            let expectedHops = 8
            #expect(hops.count == expectedHops)
            #expect(hops.allSatisfy { $0.context.traceID == first.context.traceID })
            let byID = Dictionary(hops.map { ($0.context.spanID, $0) }, uniquingKeysWith: { first, _ in first })
            func parent(of span: SpanRecord) -> SpanRecord? { span.context.parentSpanID.flatMap { byID[$0] } }
            let gatewayServer = try #require(hops.first { $0.name == "POST /double-sum" })
            #expect(gatewayServer.context.parentSpanID == first.context.spanID)
            for sum in hops.filter({ $0.name == "sum" }) {
                let server = try #require(parent(of: sum))
                #expect(server.name == "pb.Add/Sum" && server.kind == .server)
                let client = try #require(parent(of: server))
                #expect(client.kind == .client)
                #expect(parent(of: client)?.name == "double_sum")
                #expect(parent(of: client).flatMap(parent(of:))?.name == "POST /double-sum")
            }
        }
    }
}

/// Finalizer summaries, collected.
final class SummaryLog: Sendable {
    private let summaries = Mutex<[HTTPClientCallSummary]>([])
    func append(_ summary: HTTPClientCallSummary) { self.summaries.withLock { $0.append(summary) } }
    var all: [HTTPClientCallSummary] { self.summaries.withLock { $0 } }
}

/// Headers as a plain dictionary, matched in any case.
struct HeaderDictionaryExtractor: Extractor {
    func extract(key: String, from carrier: [String: String]) -> String? {
        carrier.first { $0.key.lowercased() == key.lowercased() }?.value
    }
}
