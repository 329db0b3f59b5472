import AddService
import Foundation
import Kite
import KiteNATS
import KiteTelemetry
import KiteTestSupport
import NIOCore
import ServiceLifecycle
import Synchronization
import Testing
import Tracing
import W3CTraceContext

/// Kite's NATS client and transport against a real nats-server and the nats-py peer. One test at
/// a time: each starts its own server (and Python), which a 2-core machine feels.
@Suite("NATS against a real nats-server and nats-py", .serialized, .enabled(if: Peers.isAvailable("nats-server")))
struct NATSPeerTests {
    @Test("a Python requester calls Kite's responder: answers, business errors in headers and a JSON body, malformed requests")
    func pythonRequesterToKite() async throws {
        let nats = try await NATSServer()
        try await withResponder(nats) { responder in
            let sum = try await PythonNATS.request(nats.url, "addsvc.sum", #"{"a":1,"b":2}"#)
            #expect(sum.data == #"{"v":3}"#)
            #expect(sum.headers?.isEmpty ?? true)

            let refused = try await PythonNATS.request(nats.url, "addsvc.sum", #"{"a":0,"b":0}"#)
            #expect(refused.data == #"{"error":"can't sum two zeroes","code":"INVALID_ARGUMENT"}"#)
            #expect(refused.headers?["Nats-Service-Error"] == "can't sum two zeroes")
            #expect(refused.headers?["Nats-Service-Error-Code"] == "400")
            #expect(refused.headers?["Kite-Error-Code"] == "INVALID_ARGUMENT")

            let malformed = try await PythonNATS.request(nats.url, "addsvc.sum", "not json")
            #expect(malformed.headers?["Kite-Error-Code"] == "INVALID_ARGUMENT")
            #expect(malformed.headers?["Nats-Service-Error"] == "malformed request: body is not valid JSON")

            let concat = try await PythonNATS.request(nats.url, "addsvc.concat", #"{"a":"x","b":"y"}"#)
            #expect(concat.data == #"{"v":"xy"}"#)
            #expect(responder.processed() == 1)
            #expect(responder.processed(errorType: "INVALID_ARGUMENT") == 2)
        }
    }

    @Test("a Python requester's traceparent continues in Kite's process span")
    func pythonTraceContinues() async throws {
        let nats = try await NATSServer()
        let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
        let spanID = "00f067aa0ba902b7"
        try await withResponder(nats) { responder in
            let answer = try await PythonNATS.request(nats.url, "addsvc.sum", #"{"a":2,"b":3}"#, traceparent: "00-\(traceID)-\(spanID)-01")
            #expect(answer.data == #"{"v":5}"#)
            let spans = await responder.pipeline.flushedSpans()
            let process = try #require(spans.first { $0.name == "process addsvc.sum" })
            #expect(process.kind == .consumer)
            #expect(process.context.traceID.description == traceID)
            #expect(process.context.parentSpanID?.description == spanID)
            #expect(process.attributes.get("messaging.system") == .string("nats"))
            #expect(process.attributes.get("messaging.destination.name") == .string("addsvc.sum"))
            #expect(process.attributes.get("messaging.operation.type") == .string("process"))
            #expect(process.attributes.get("messaging.consumer.group.name") == .string("addsvc"))
            // The endpoint's own span (the one decorator) is the process span's child.
            let endpoint = try #require(spans.first { $0.name == "sum" })
            #expect(endpoint.context.parentSpanID == process.context.spanID)
        }
    }

    @Test("Kite's requester calls a Python responder: trace context and the deadline travel in headers, errors come back typed")
    func kiteRequesterToPython() async throws {
        struct Reply: Decodable, Sendable {
            let v: Int
            let traceparent: String
            let timeout: String
        }
        let nats = try await NATSServer()
        let python = try await PythonNATS.Responder.start(nats.url, "py.sum")
        let pipeline = MemoryPipeline(serviceName: "caller")
        try await withClient(nats, pipeline: pipeline) { client in
            let options = NATSRequestOptions(timeout: .seconds(3), decodeError: RemoteError.matching(AddServiceError.self))
            let sum: Endpoint<SumRequest, Reply> = client.endpoint("py.sum", options: options)
            let reply = try await sum(SumRequest(a: 40, b: 2))
            #expect(reply.v == 42)
            let timeout = try #require(Int(reply.timeout))
            #expect(timeout > 2000 && timeout <= 3000)
            await #expect(throws: AddServiceError.twoZeroes) { _ = try await sum(SumRequest(a: 0, b: 0)) }

            let spans = await pipeline.flushedSpans()
            let request = try #require(spans.first { $0.name == "request py.sum" && $0.status == nil })
            #expect(request.kind == .client)
            #expect(reply.traceparent == "00-\(request.context.traceID)-\(request.context.spanID)-01")
            #expect(request.attributes.get("messaging.operation.type") == .string("publish"))
            let refused = try #require(spans.first { $0.attributes.get("error.type") == .string("INVALID_ARGUMENT") })
            #expect(refused.status?.code != .error)  // a business error is an answer
            #expect(pipeline.value(#"messaging_client_operation_duration_seconds_count{messaging_system="nats",messaging_operation_name="request",messaging_destination_name="py.sum",error_type=""}"#) == 1)
            #expect(pipeline.value(#"messaging_client_operation_duration_seconds_count{messaging_system="nats",messaging_operation_name="request",messaging_destination_name="py.sum",error_type="INVALID_ARGUMENT"}"#) == 1)
        }
        _ = python
    }

    @Test("Kite to Kite: one trace across the hop, the service's own errors, RED metrics on both sides")
    func kiteToKite() async throws {
        let nats = try await NATSServer()
        try await withResponder(nats) { responder in
            let caller = MemoryPipeline(serviceName: "caller")
            try await withClient(nats, pipeline: caller) { client in
                let endpoints = AddEndpoints.nats(client)
                let sum = try await endpoints.sum(SumRequest(a: 1, b: 2))
                let concat = try await endpoints.concat(ConcatRequest(a: "a", b: "b"))
                #expect(sum == SumResponse(v: 3) && concat == ConcatResponse(v: "ab"))
                await #expect(throws: AddServiceError.integerOverflow) { _ = try await endpoints.sum(SumRequest(a: .max, b: 1)) }
                await #expect(throws: AddServiceError.maxSizeExceeded) {
                    _ = try await endpoints.concat(ConcatRequest(a: "0123456789", b: "x"))
                }
            }
            let client = try #require(await caller.flushedSpans().first { $0.name == "request addsvc.sum" })
            let server = try #require(await responder.pipeline.flushedSpans().first {
                $0.name == "process addsvc.sum" && $0.context.traceID == client.context.traceID
            })
            #expect(server.context.parentSpanID == client.context.spanID)
            #expect(responder.processed() == 1)
            #expect(responder.processed(errorType: "OUT_OF_RANGE") == 1)
        }
    }

    @Test("a queue group of three Kite responders shares the load")
    func queueGroupSharesLoad() async throws {
        let nats = try await NATSServer()
        let calls = 300
        try await withResponder(nats) { first in
            try await withResponder(nats) { second in
                try await withResponder(nats) { third in
                    try await withClient(nats) { client in
                        let sum = AddEndpoints.nats(client).sum
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            for index in 0..<calls {
                                group.addTask {
                                    let answer = try await sum(SumRequest(a: index, b: 1))
                                    #expect(answer.v == index + 1)
                                }
                                if index % 16 == 15 { try await group.next() }
                            }
                            try await group.waitForAll()
                        }
                    }
                    let counts = [first, second, third].map { $0.processed() }
                    #expect(counts.reduce(0, +) == Double(calls))
                    #expect(counts.allSatisfy { $0 > 0 }, "each member of the queue group answered some: \(counts)")
                }
            }
        }
    }

    @Test("nats-server restarted under load: clients reconnect, subscribe again, send what was buffered, and requests succeed again")
    func serverRestart() async throws {
        let nats = try await NATSServer()
        try await withResponder(nats) { responder in
            let caller = MemoryPipeline(serviceName: "caller")
            try await withClient(nats, pipeline: caller) { client in
                let sum = AddEndpoints.nats(client, timeout: .seconds(1)).sum
                let buffered = try client.subscribe(to: "buffered.>")
                // Load before, through and after the restart.
                let outcomes = Outcomes()
                let load = Task {
                    while !Task.isCancelled {
                        do {
                            _ = try await sum(SumRequest(a: 1, b: 1))
                            outcomes.record(success: true)
                        } catch {
                            outcomes.record(success: false)
                        }
                    }
                }
                try await waitUntil("some requests before the restart") { outcomes.successes > 20 }
                try await nats.stop()
                try await waitUntil("the client to notice the connection is gone") { !client.isConnected }
                // Published while no server runs: held, and sent once connected again.
                for index in 0..<10 { try client.publish(ByteBuffer(string: "m\(index)"), to: "buffered.\(index)") }
                try await nats.start()
                try await client.waitUntilConnected()
                let before = outcomes.successes
                try await waitUntil("requests to succeed after the restart") { outcomes.successes > before + 50 }
                load.cancel()
                _ = await load.value

                var received: [String] = []
                for await message in buffered {
                    received.append(String(buffer: message.payload))
                    if received.count == 10 { break }
                }
                #expect(received == (0..<10).map { "m\($0)" })
                #expect(caller.value("kite_nats_reconnects_total") == 1)
                #expect(responder.pipeline.value("kite_nats_reconnects_total") == 1)
            }
        }
    }

    @Test("a message over the server's max_payload gets a clear error before it is sent, and the connection stays")
    func maxPayload() async throws {
        let nats = try await NATSServer(configuration: "max_payload: 1024\n")
        try await withResponder(nats) { _ in
            try await withClient(nats) { client in
                #expect(client.serverInfo?.maxPayload == 1024)
                #expect(throws: NATSError.payloadTooLarge(size: 2000, maxPayload: 1024)) {
                    try client.publish(ByteBuffer(repeating: UInt8(ascii: "x"), count: 2000), to: "big")
                }
                let concat = AddEndpoints.nats(client).concat
                do {
                    _ = try await concat(ConcatRequest(a: String(repeating: "a", count: 1500), b: "b"))
                    Issue.record("a request over max_payload was sent")
                } catch let error as NATSError {
                    #expect(error.code == .outOfRange)
                    #expect("\(error)".contains("exceeds the server's max_payload of 1024 bytes"))
                }
                // Still connected, still answering.
                let four = try await AddEndpoints.nats(client).sum(SumRequest(a: 2, b: 2))
                #expect(four.v == 4)
                #expect(client.isConnected)
            }
        }
    }

    @Test("a request nobody subscribes to fails at once with no responders, not after its timeout")
    func noResponders() async throws {
        let nats = try await NATSServer()
        try await withClient(nats) { client in
            let start = ContinuousClock.now
            await #expect(throws: NATSError.noResponders(subject: "nobody.home")) {
                _ = try await client.request(ByteBuffer(string: "hi"), to: "nobody.home", timeout: .seconds(20))
            }
            #expect(start.duration(to: .now) < .seconds(10))
        }
    }

    @Test("a request times out with a clear error; its reply, when it comes later, is counted as late")
    func requestTimeoutAndLateReply() async throws {
        let nats = try await NATSServer()
        let pipeline = MemoryPipeline(serviceName: "caller")
        try await withClient(nats, pipeline: pipeline) { client in
            let slow = try client.subscribe(to: "slow")
            try await client.flush()
            await #expect(throws: NATSError.timedOut(subject: "slow", after: .milliseconds(200))) {
                _ = try await client.request(ByteBuffer(string: "q"), to: "slow", timeout: .milliseconds(200))
            }
            // The request is in the subscription already; answer it only now.
            var iterator = slow.makeAsyncIterator()
            let request = try #require(await iterator.next())
            try client.publish(ByteBuffer(string: "too late"), to: try #require(request.replyTo))
            try await client.flush()
            #expect(pipeline.value(#"kite_nats_dropped_messages_total{reason="late_reply"}"#) == 1)
        }
    }

    @Test("credentials: a user and password in the URL connect; a wrong password is refused, counted and logged")
    func authentication() async throws {
        let nats = try await NATSServer(arguments: ["--user", "kite", "--pass", "s3cret"])
        let url = "nats://kite:s3cret@127.0.0.1:\(nats.port)"
        let pipeline = MemoryPipeline(serviceName: "caller")
        let client = try NATSClient(configuration: .init(servers: [url]), telemetry: pipeline.telemetry)
        try await withClient(client) {
            let echo = try client.subscribe(to: "auth.echo")
            try client.publish(ByteBuffer(string: "hello"), to: "auth.echo")
            var iterator = echo.makeAsyncIterator()
            #expect(await iterator.next().map { String(buffer: $0.payload) } == "hello")
        }

        let refusedPipeline = MemoryPipeline(serviceName: "refused")
        let refused = try NATSClient(
            configuration: .init(servers: ["nats://kite:wrong@127.0.0.1:\(nats.port)"], reconnectWait: .milliseconds(20)),
            telemetry: refusedPipeline.telemetry
        )
        try await withClient(refused, waitForConnection: false) {
            try await waitUntil("two refused attempts") { (refusedPipeline.value("kite_nats_connect_failures_total") ?? 0) >= 2 }
            #expect(!refused.isConnected)
            refusedPipeline.telemetry.logSink.flush()
            #expect(refusedPipeline.logs.lines.contains { $0.contains("Authorization Violation") })
        }
    }

    @Test("a token in the URL connects to a server that wants one")
    func tokenAuthentication() async throws {
        let nats = try await NATSServer(arguments: ["--auth", "t0ken"])
        let client = try NATSClient(configuration: .init(servers: ["nats://t0ken@127.0.0.1:\(nats.port)"]), telemetry: MemoryPipeline(serviceName: "caller").telemetry)
        try await withClient(client) {
            #expect(client.serverInfo?.authRequired == true)
            try await client.flush()
        }
    }

    @Test("UNSUB with a maximum: the subscription ends by itself after that many messages")
    func unsubscribeAfter() async throws {
        let nats = try await NATSServer()
        try await withClient(nats) { client in
            let subscription = try client.subscribe(to: "counted")
            subscription.unsubscribe(after: 3)
            for index in 0..<5 { try client.publish(ByteBuffer(string: "\(index)"), to: "counted") }
            var received: [String] = []
            for await message in subscription { received.append(String(buffer: message.payload)) }
            #expect(received == ["0", "1", "2"])
        }
    }

    @Test("a server that stops answering pings is noticed: the connection is replaced once it answers again")
    func staleConnection() async throws {
        let nats = try await NATSServer()
        let pipeline = MemoryPipeline(serviceName: "caller")
        try await withClient(nats, pipeline: pipeline, configure: {
            $0.pingInterval = .milliseconds(100)
            $0.maxOutstandingPings = 2
            $0.connectTimeout = .milliseconds(500)
        }) { client in
            try nats.pause()
            try await waitUntil("the stale connection to be dropped") { !client.isConnected }
            pipeline.telemetry.logSink.flush()  // lines are written by the sink's thread
            #expect(pipeline.logs.lines.contains { $0.contains("connection stale") })
            try nats.resume()
            try await client.waitUntilConnected()
            try await client.flush()
            #expect(pipeline.value("kite_nats_reconnects_total") == 1)
        }
    }

    @Test("a subscription that falls behind keeps the oldest messages and counts the ones it drops")
    func slowConsumer() async throws {
        let nats = try await NATSServer()
        let pipeline = MemoryPipeline(serviceName: "caller")
        try await withClient(nats, pipeline: pipeline, configure: { $0.subscriptionBufferSize = 4 }) { client in
            let subscription = try client.subscribe(to: "fast")
            try await client.flush()
            for index in 0..<50 { try client.publish(ByteBuffer(string: "\(index)"), to: "fast") }
            try await client.flush()
            #expect(pipeline.value(#"kite_nats_dropped_messages_total{reason="slow_consumer"}"#) == 46)
            #expect(pipeline.value(#"messaging_client_consumed_messages_total{messaging_system="nats",messaging_destination_subscription_name="fast"}"#) == 50)
            var iterator = subscription.makeAsyncIterator()
            var first: [String] = []
            for _ in 0..<4 { first.append(String(buffer: try #require(await iterator.next()).payload)) }
            #expect(first == ["0", "1", "2", "3"])
        }
    }

    @Test("with no server, publishing fills the reconnect buffer up to its limit, then fails and counts the drop")
    func reconnectBufferLimit() async throws {
        let pipeline = MemoryPipeline(serviceName: "caller")
        let port = try freePort()  // nothing listens there
        let client = try NATSClient(
            configuration: .init(servers: ["nats://127.0.0.1:\(port)"], reconnectBufferSize: 4096),
            telemetry: pipeline.telemetry
        )
        try await withClient(client, waitForConnection: false) {
            let payload = ByteBuffer(repeating: 0x61, count: 1000)
            for _ in 0..<4 { try client.publish(payload, to: "held") }
            #expect(throws: NATSError.reconnectBufferFull(limit: 4096)) { try client.publish(payload, to: "held") }
            #expect(pipeline.value(#"kite_nats_dropped_messages_total{reason="reconnect_buffer_full"}"#) == 1)
        }
    }

    @Test("graceful shutdown drains: requests routed to a responder that is stopping are still answered")
    func gracefulDrain() async throws {
        let nats = try await NATSServer()
        let service = SlowAddService(delay: .milliseconds(300))
        try await withClient(nats) { client in
            let sum = AddEndpoints.nats(client).sum
            try await withResponder(nats, service: service) { responder in
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for index in 0..<5 { group.addTask { try await sum(SumRequest(a: index, b: 10)).v } }
                    try await waitUntil("the calls to reach the service") { service.started.load(ordering: .relaxed) == 5 }
                    await responder.group.triggerGracefulShutdown()
                    var answers: [Int] = []
                    for try await answer in group { answers.append(answer) }
                    #expect(answers.sorted() == [10, 11, 12, 13, 14])
                }
            }
        }
    }
}

/// Successes and failures of a load loop.
final class Outcomes: Sendable {
    private let counts = Mutex((successes: 0, failures: 0))

    func record(success: Bool) {
        self.counts.withLock { success ? ($0.successes += 1) : ($0.failures += 1) }
    }

    var successes: Int { self.counts.withLock { $0.successes } }
}

/// addsvc that takes `delay` over every call, counting the calls that started.
final class SlowAddService: AddService {
    let delay: Duration
    let started = Atomic<Int>(0)

    init(delay: Duration) { self.delay = delay }

    func sum(_ a: Int, _ b: Int) async throws -> Int {
        self.started.add(1, ordering: .relaxed)
        try await Task.sleep(for: self.delay)
        return try await BasicAddService().sum(a, b)
    }

    func concat(_ a: String, _ b: String) async throws -> String {
        try await BasicAddService().concat(a, b)
    }
}
