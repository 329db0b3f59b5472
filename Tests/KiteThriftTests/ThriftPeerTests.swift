import Foundation
import Kite
import KiteTelemetry
import KiteTestSupport
import KiteThrift
import NIOCore
import Testing
import Tracing
import W3CTraceContext

/// Kite's Thrift transport against the upstream Python library, in both protocols over both
/// transports. One test at a time: each starts Python processes.
@Suite("Thrift against Python Thrift peers", .serialized, .enabled(if: Peers.isAvailable("python3")))
struct ThriftPeerTests {
    @Test("a Python client calls Kite's server: every type round trips, declared exceptions, TApplicationExceptions, void, oneway, unknown methods", arguments: thriftCombinations)
    func pythonClientToKite(protocol: ThriftProtocol, transport: ThriftTransport) async throws {
        try await withTestService(protocol: `protocol`, transport: transport) { port, pipeline, fired in
            let out = try await PythonThrift.run(["call", String(port), `protocol`.rawValue, transport.rawValue])
            #expect(out["echo"] as? Bool == true, "Everything came back equal: \(out)")
            #expect(out["echo_note"] as? String == "a note")
            #expect(out["echo_without_note"] as? Bool == true)
            #expect(out["echo_without_note_note"] is NSNull)
            #expect(out["echo_text"] as? String == "héllo ✓ 日本")
            #expect(out["add"] as? Int == (1 << 40) + 2)
            #expect(out["find"] as? String == "found:key")
            let missing = try #require(out["find_missing"] as? [String: Any])
            #expect(missing["NotFound"] as? String == "missing" && missing["code"] as? Int == 404)
            #expect((out["find_empty"] as? [String: Any])?["Invalid"] as? String == "empty key")
            let boom = try #require(out["find_boom"] as? [String: Any])
            #expect(boom["TApplicationException"] as? Int == 6, "INTERNAL_ERROR")
            #expect(boom["message"] as? String == "UNAVAILABLE: boom")
            #expect(out["ping"] as? Bool == true)
            let nope = try #require(out["nope"] as? [String: Any])
            #expect(nope["kind"] as? Int == 3 && nope["seqid"] as? Int == 99 && nope["type"] as? Int == 1, "UNKNOWN_METHOD: \(nope)")
            #expect(nope["message"] as? String == "UNIMPLEMENTED: Invalid method name: 'Nope'")
            #expect(out["add_after"] as? Int == 2)
            try await waitUntil("the oneway call to arrive") { fired.all == ["fired"] }

            // Spans and the RPC metric, per method and code.
            #expect(pipeline.value(#"rpc_server_call_duration_seconds_count{rpc_system="thrift",rpc_service="TestService",rpc_method="Add",rpc_grpc_status_code="0"}"#) == 2)
            #expect(pipeline.value(#"rpc_server_call_duration_seconds_count{rpc_system="thrift",rpc_service="TestService",rpc_method="Find",rpc_grpc_status_code="5"}"#) == 1)
            #expect(pipeline.value(#"rpc_server_call_duration_seconds_count{rpc_system="thrift",rpc_service="TestService",rpc_method="Find",rpc_grpc_status_code="14"}"#) == 1)
            let spans = await pipeline.flushedSpans()
            let notFound = try #require(spans.first { $0.name == "TestService/Find" && $0.attributes.get("error.type") == .string("NOT_FOUND") })
            #expect(notFound.kind == .server && notFound.status?.code != .error)  // a declared business error is an answer
            let failed = try #require(spans.first { $0.name == "TestService/Find" && $0.attributes.get("error.type") == .string("UNAVAILABLE") })
            #expect(failed.status?.code == .error)
        }
    }

    @Test("Kite's client calls a Python server: every type, declared exceptions thrown as themselves, TApplicationException as a RemoteError", arguments: thriftCombinations)
    func kiteClientToPython(protocol: ThriftProtocol, transport: ThriftTransport) async throws {
        let peer = try await PythonThrift.serve("test", protocol: `protocol`, transport: transport)
        defer { ChildStopper.stop(peer.process, signal: SIGKILL, grace: .zero) }
        let pipeline = MemoryPipeline(serviceName: "caller")
        let connection = ThriftConnection(
            configuration: .init(host: "127.0.0.1", port: peer.port, serviceName: "TestService", protocol: `protocol`, transport: transport),
            telemetry: pipeline.telemetry
        )
        defer { connection.close() }
        let echo: Endpoint<EchoArguments, Everything> = connection.endpoint("Echo")
        let add: Endpoint<AddArguments, Int64> = connection.endpoint("Add")
        let find: Endpoint<FindArguments, String> = connection.endpoint("Find", exceptions: findExceptions)
        let ping: Endpoint<NoArguments, ThriftVoid> = connection.endpoint("Ping")

        for note in ["a note", nil] {
            let value = Everything.sample(note: note)
            #expect(try await echo(EchoArguments(value: value)) == value)
        }
        #expect(try await add(AddArguments(a: 1 << 40, b: 2)) == (1 << 40) + 2)
        #expect(try await find(FindArguments(key: "k")) == "found:k")
        await #expect(throws: NotFound(what: "missing", errorCode: 404)) { _ = try await find(FindArguments(key: "missing")) }
        await #expect(throws: Invalid(reason: "empty key")) { _ = try await find(FindArguments(key: "")) }
        do {
            _ = try await find(FindArguments(key: "boom"))
            Issue.record("boom did not fail")
        } catch let error as RemoteError {
            #expect(error.code == .internal, "Python's INTERNAL_ERROR")
        }
        _ = try await ping(NoArguments())
        // Calls at once share the connection; each reply finds its call by sequence id.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<20 {
                group.addTask {
                    let sum = try await add(AddArguments(a: Int64(index), b: 1))
                    #expect(sum == Int64(index) + 1)
                }
            }
            try await group.waitForAll()
        }
        let spans = await pipeline.flushedSpans()
        #expect(spans.contains { $0.name == "TestService/Add" && $0.kind == .client })
        #expect(pipeline.value(#"rpc_client_call_duration_seconds_count{rpc_system="thrift",rpc_service="TestService",rpc_method="Add",rpc_grpc_status_code="0"}"#) == 21)
    }

    @Test("Kite to Kite: the trace and the deadline cross in Kite's context field")
    func kiteToKiteTrace() async throws {
        try await withTestService(protocol: .compact, transport: .framed) { port, server, _ in
            let caller = MemoryPipeline(serviceName: "caller")
            let connection = ThriftConnection(configuration: .init(host: "127.0.0.1", port: port, serviceName: "TestService"), telemetry: caller.telemetry)
            defer { connection.close() }
            let find: Endpoint<FindArguments, String> = connection.endpoint("Find", exceptions: findExceptions)
            #expect(try await find(FindArguments(key: "x")) == "found:x")
            do {
                _ = try await find(FindArguments(key: "boom"))
                Issue.record("boom did not fail")
            } catch let error as RemoteError {
                #expect(error.code == .unavailable && error.message == "boom", "Kite's code survives the TApplicationException")
            }
            let client = try #require(await caller.flushedSpans().first { $0.name == "TestService/Find" && $0.status == nil })
            let serverSpans = await server.flushedSpans()
            let served = try #require(serverSpans.first { $0.name == "TestService/Find" && $0.context.traceID == client.context.traceID })
            #expect(served.context.parentSpanID == client.context.spanID)
            let endpoint = try #require(serverSpans.first { $0.name == "find" && $0.context.parentSpanID == served.context.spanID })
            #expect(endpoint.context.traceID == client.context.traceID)
        }
    }

    @Test("truncated, oversized, deeply nested and lying frames get a clear error, and the server keeps serving", arguments: [ThriftTransport.framed, .buffered])
    func hostileFrames(transport: ThriftTransport) async throws {
        let limits = ThriftLimits(maxMessageSize: 64 * 1024, maxContainerSize: 10_000, maxStringSize: 32 * 1024, maxDepth: 16)
        try await withTestService(protocol: .binary, transport: transport, limits: limits) { port, _, _ in
            func frame(_ message: [UInt8]) -> String {
                let bytes = transport == .framed ? withUnsafeBytes(of: UInt32(message.count).bigEndian, Array.init) + message : message
                return bytes.map { String(format: "%02x", $0) }.joined()
            }
            // A binary-protocol call header: version | CALL, the name, the sequence id.
            func call(_ name: String, sequenceID: UInt8 = 7) -> [UInt8] {
                [0x80, 0x01, 0x00, 0x01] + withUnsafeBytes(of: UInt32(name.utf8.count).bigEndian, Array.init) + Array(name.utf8) + [0, 0, 0, sequenceID]
            }
            func exceptionMessage(_ reply: String) -> String {
                String(decoding: Array(hexBytes: reply), as: UTF8.self)
            }

            // Echo's argument 1 is a struct: nest lists 100 deep inside it.
            let deep = call("Echo") + [0x0C, 0x00, 0x01] + [0x0F, 0x00, 0x09] + Array(repeating: [0x0F, 0x00, 0x00, 0x00, 0x01], count: 100).flatMap { $0 }
            let nested = try await PythonThrift.run(["raw", String(port), frame(deep + Array(repeating: 0, count: 8))])
            if transport == .framed {
                // The frame is whole: the call is answered with a protocol error.
                #expect(exceptionMessage(nested["reply"] as? String ?? "").contains("nested deeper than 16"))
            } else {
                // A buffered message is measured by walking it: the connection is closed.
                #expect(nested["closed"] as? Bool == true)
            }

            // A list that says it holds a billion elements.
            let lying = call("Echo") + [0x0C, 0x00, 0x01, 0x0F, 0x00, 0x09, 0x08, 0x3B, 0x9A, 0xCA, 0x00, 0, 0]
            let lied = try await PythonThrift.run(["raw", String(port), frame(lying)])
            #expect(transport == .buffered ? lied["closed"] as? Bool == true : exceptionMessage(lied["reply"] as? String ?? "").contains("past the limit"))

            if transport == .framed {
                // A frame whose message stops half-way: the header is answered, with a protocol error.
                let truncated = try await PythonThrift.run(["raw", String(port), frame(call("Add") + [0x0A, 0x00, 0x01, 0x00])])
                #expect(exceptionMessage(truncated["reply"] as? String ?? "").contains("message truncated"))
                // A frame past the limit is refused from its length, and the connection closed.
                let oversized = try await PythonThrift.run(["raw", String(port), "7fffffff00"])
                #expect(oversized["closed"] as? Bool == true && oversized["reply"] as? String == "")
            }

            // Garbage instead of a message: closed, nothing answered.
            let garbage = try await PythonThrift.run(["raw", String(port), frame(Array("GET / HTTP/1.1\r\n\r\n".utf8))])
            #expect(garbage["closed"] as? Bool == true)

            // Still serving.
            let out = try await PythonThrift.run(["call", String(port), "binary", transport.rawValue])
            #expect(out["add"] as? Int == (1 << 40) + 2)
        }
    }
}

extension Array where Element == UInt8 {
    init(hexBytes hex: String) {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex, let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex) {
            if let byte = UInt8(hex[index..<next], radix: 16) { bytes.append(byte) }
            index = next
        }
        self = bytes
    }
}
