import AddService
import Foundation
import Kite
import KiteGRPC
import KiteTelemetry
import KiteTestSupport
import Testing
import Tracing

/// Serialized: each test starts a Python process, and six at once would starve the rest of the
/// suite's timing-sensitive tests on two cores.
@Suite("addsvc's gRPC server and Kite's gRPC client against Python's grpcio", .serialized, .enabled(if: Peers.isAvailable("python3")))
struct PythonGRPCPeerTests {
    @Test("a Python client built from go-kit's addsvc.proto calls Sum and Concat; business errors arrive as their status codes")
    func unaryAndBusinessErrors() async throws {
        try await withAddService { addsvc in
            let unary = try await PythonGRPCPeer.call(port: addsvc.grpcPort, scenario: "unary")
            #expect(unary["sum"]?.int == 3)
            #expect(unary["concat"]?.string == "xy")

            let errors = try await PythonGRPCPeer.call(port: addsvc.grpcPort, scenario: "business_errors")
            #expect(errors["overflow"]?.code == "OUT_OF_RANGE")
            #expect(errors["overflow"]?.details == "integer overflow")
            #expect(errors["two_zeroes"]?.code == "INVALID_ARGUMENT")
            #expect(errors["too_long"]?.code == "OUT_OF_RANGE")
            #expect(errors["too_long"]?.details == "result exceeds maximum size")
            #expect(errors["empty_range"]?.code == "INVALID_ARGUMENT")

            let pipeline = addsvc.pipeline
            #expect(pipeline.value(#"rpc_server_call_duration_seconds_count{rpc_system="grpc",rpc_service="pb.Add",rpc_method="Sum",rpc_grpc_status_code="0"}"#) == 1)
            #expect(pipeline.value(#"rpc_server_call_duration_seconds_count{rpc_system="grpc",rpc_service="pb.Add",rpc_method="Sum",rpc_grpc_status_code="11"}"#) == 1)
            #expect(pipeline.value(#"rpc_server_call_duration_seconds_count{rpc_system="grpc",rpc_service="pb.Add",rpc_method="Sum",rpc_grpc_status_code="3"}"#) == 1)
            #expect(pipeline.value(#"kite_endpoint_requests_total{endpoint="sum",outcome="business_error",error_type="AddServiceError"}"#) == 2)
            #expect(pipeline.value(#"kite_endpoint_requests_total{endpoint="concat",outcome="business_error",error_type="AddServiceError"}"#) == 1)

            // A business error leaves the server span's status unset, as OpenTelemetry's gRPC
            // conventions say for OUT_OF_RANGE, and names the code.
            let spans = await pipeline.flushedSpans()
            let failedSum = try #require(spans.first { $0.name == "pb.Add/Sum" && $0.attributes.get("rpc.grpc.status_code") == .int64(11) })
            #expect(failedSum.kind == .server)
            #expect(failedSum.status?.code != .error)
            #expect(failedSum.attributes.get("error.type") == .string("OUT_OF_RANGE"))
            #expect(failedSum.attributes.get("rpc.system") == .string("grpc"))
        }
    }

    @Test("each streaming kind: server, client and bidirectional, with a message event per message")
    func streaming() async throws {
        try await withAddService { addsvc in
            let outcomes = try await PythonGRPCPeer.call(port: addsvc.grpcPort, scenario: "streaming")
            #expect(outcomes["server_streaming"]?.ints == [1, 3, 6, 10])
            #expect(outcomes["client_streaming"]?.int == 10)
            #expect(outcomes["bidirectional"]?.ints == [11, 22, 33])
            // An error in the middle of a stream ends it with the error's status.
            #expect(outcomes["stream_error"]?.code == "OUT_OF_RANGE")

            let spans = await addsvc.pipeline.flushedSpans()
            let running = try #require(spans.first {
                $0.name == "kite.addsvc.AddStream/RunningSum" && $0.attributes.get("rpc.grpc.status_code") == .int64(0)
            })
            let sent = running.events.filter { $0.attributes.get("rpc.message.type") == .string("SENT") }
            #expect(sent.map { $0.attributes.get("rpc.message.id") } == [.int64(1), .int64(2), .int64(3), .int64(4)])
            #expect(running.events.filter { $0.attributes.get("rpc.message.type") == .string("RECEIVED") }.count == 1)
            let sumAll = try #require(spans.first { $0.name == "kite.addsvc.AddStream/SumAll" })
            #expect(sumAll.events.filter { $0.attributes.get("rpc.message.type") == .string("RECEIVED") }.count == 4)
            #expect(addsvc.pipeline.value(#"rpc_server_call_duration_seconds_count{rpc_system="grpc",rpc_service="kite.addsvc.AddStream",rpc_method="SumEach",rpc_grpc_status_code="0"}"#) == 1)
        }
    }

    @Test("a traceparent sent by Python continues in Kite's server span, and the endpoint's span is its child")
    func traceContinues() async throws {
        try await withAddService { addsvc in
            let parent = TestTraceParent()
            let outcomes = try await PythonGRPCPeer.call(port: addsvc.grpcPort, scenario: "unary", traceparent: parent.header)
            #expect(outcomes["sum"]?.int == 3)
            let spans = await addsvc.pipeline.flushedSpans()
            let server = try #require(spans.first { $0.name == "pb.Add/Sum" })
            #expect("\(server.context.traceID)" == parent.traceID)
            #expect(server.context.parentSpanID.map { "\($0)" } == parent.spanID)
            let endpoint = try #require(spans.first { $0.name == "sum" })
            #expect(endpoint.context.traceID == server.context.traceID)
            #expect(endpoint.context.parentSpanID == server.context.spanID)
            // Concat was sent without one: a trace of its own.
            let concat = try #require(spans.first { $0.name == "pb.Add/Concat" })
            #expect("\(concat.context.traceID)" != parent.traceID)
        }
    }

    @Test("the health service answers SERVING for the server and its services, NOT_FOUND for others; no spans by default")
    func health() async throws {
        try await withAddService { addsvc in
            let outcomes = try await PythonGRPCPeer.call(port: addsvc.grpcPort, scenario: "health")
            #expect(outcomes["overall"]?.string == "SERVING")
            #expect(outcomes["pb.Add"]?.string == "SERVING")
            #expect(outcomes["unknown"]?.code == "NOT_FOUND")
            #expect(outcomes["watch"]?.string == "SERVING")
            let spans = await addsvc.pipeline.flushedSpans()
            #expect(!spans.contains { $0.name.hasPrefix("grpc.health.v1.Health") })
            #expect(addsvc.pipeline.value(#"rpc_server_call_duration_seconds_count{rpc_system="grpc",rpc_service="grpc.health.v1.Health",rpc_method="Check",rpc_grpc_status_code="0"}"#) == 2)

            // From the moment shutdown begins, the service is not ready: load balancers drain it.
            addsvc.readiness.beginShutdown()
            let after = try await PythonGRPCPeer.call(port: addsvc.grpcPort, scenario: "health")
            #expect(after["overall"]?.string == "NOT_SERVING")
        }
    }

    @Test("hostile calls get clear statuses — unknown method or service, a message over the limit, garbage, invalid UTF-8 — and a final call succeeds")
    func hostile() async throws {
        try await withAddService { addsvc in
            let outcomes = try await PythonGRPCPeer.call(port: addsvc.grpcPort, scenario: "hostile")
            #expect(outcomes["unknown_method"]?.code == "UNIMPLEMENTED")
            #expect(outcomes["unknown_service"]?.code == "UNIMPLEMENTED")
            #expect(outcomes["too_large"]?.code == "RESOURCE_EXHAUSTED")
            #expect(outcomes["too_large"]?.details?.contains("larger than the limit of 4194304 bytes") == true)
            #expect(outcomes["garbage"]?.code == "INVALID_ARGUMENT")
            #expect(outcomes["invalid_utf8"]?.code == "INVALID_ARGUMENT")
            #expect(outcomes["after"]?.int == 42)
        }
    }

    @Test("Kite's gRPC client calls a Python gRPC server: result, typed business error, trace context and deadline in the metadata")
    func kiteClientPythonServer() async throws {
        let server = try await PythonGRPCPeer.Server()
        defer { server.stop() }
        let pipeline = MemoryPipeline(serviceName: "caller")
        let connection = try GRPCConnection(configuration: .init(host: "127.0.0.1", port: server.port), telemetry: pipeline.telemetry)
        let endpoints = AddEndpoints.grpc(connection)
        try await withConnection(connection) { () async throws in
            #expect(try await endpoints.sum(SumRequest(a: 20, b: 22)) == SumResponse(v: 42))
            await #expect(throws: AddServiceError.integerOverflow) {
                _ = try await endpoints.sum(SumRequest(a: .max, b: 1))
            }
            var context = ServiceContext.topLevel
            context.deadline = .now.advanced(by: .seconds(3))
            let concat = try await ServiceContext.$current.withValue(context) {
                try await endpoints.concat(ConcatRequest(a: "a", b: "b"))
            }
            #expect(concat.v == "ab")
        }
        let spans = await pipeline.flushedSpans()
        // The server prints a line per call as it answers; the last may still be in the pipe.
        try await waitUntil("the Python server to report three calls") { server.calls.count >= 3 }
        let calls = server.calls
        #expect(calls.map(\.method) == ["Sum", "Sum", "Concat"])
        let first = try #require(spans.first { $0.name == "pb.Add/Sum" && $0.attributes.get("rpc.grpc.status_code") == .int64(0) })
        #expect(first.kind == .client)
        #expect(calls[0].metadata["traceparent"] == "00-\(first.context.traceID)-\(first.context.spanID)-01")
        // The overflow is the server's business answer: not an error on the client span either.
        let overflow = try #require(spans.first { $0.name == "pb.Add/Sum" && $0.attributes.get("rpc.grpc.status_code") == .int64(11) })
        #expect(overflow.status?.code != .error)
        // The deadline crossed the wire as grpc-timeout: Python saw at most the three seconds left.
        let remaining = try #require(calls[2].time_remaining)
        #expect(remaining > 0 && remaining <= 3)
        // Without a deadline none is sent (grpcio then reports "practically forever").
        #expect((calls[0].time_remaining ?? .infinity) > 1e9)
        #expect(pipeline.value(#"rpc_client_call_duration_seconds_count{rpc_system="grpc",rpc_service="pb.Add",rpc_method="Sum",rpc_grpc_status_code="0"}"#) == 1)
        #expect(pipeline.value(#"rpc_client_call_duration_seconds_count{rpc_system="grpc",rpc_service="pb.Add",rpc_method="Sum",rpc_grpc_status_code="11"}"#) == 1)
    }

    @Test("Examples/addsvc/addsvc.proto is go-kit's own file, byte for byte (Debian's go-kit package)")
    func sameProtoAsGoKit() throws {
        let goKit = "/usr/share/doc/golang-github-go-kit-kit-dev/examples/addsvc/pb/addsvc.proto"
        guard FileManager.default.fileExists(atPath: goKit) || Peers.isCI else { return }
        let theirs = try Data(contentsOf: URL(fileURLWithPath: goKit))
        let ours = try Data(contentsOf: PythonGRPCPeer.repositoryRoot.appendingPathComponent("Examples/addsvc/addsvc.proto"))
        #expect(ours == theirs)
    }
}
