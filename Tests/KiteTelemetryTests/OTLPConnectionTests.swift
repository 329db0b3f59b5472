import Foundation
import KiteTestSupport
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing
import Tracing

@testable import KiteTelemetry

@Suite("OTLP/HTTP: where an http:// URL connects")
struct OTLPConnectionTargetTests {
    @Test(
        "host, port, Host header and request target",
        arguments: [
            ("http://127.0.0.1:4318/v1/traces", "127.0.0.1", 4318, "127.0.0.1:4318", "/v1/traces"),
            ("HTTP://collector/v1/logs?tenant=a#frag", "collector", 80, "collector", "/v1/logs?tenant=a"),
            ("http://user:secret@collector:9000/v1/metrics", "collector", 9000, "collector:9000", "/v1/metrics"),
            ("http://[::1]:4318/v1/traces", "::1", 4318, "[::1]:4318", "/v1/traces"),
            ("http://collector:4318", "collector", 4318, "collector:4318", "/"),
            ("http://collector?x=1", "collector", 80, "collector", "/?x=1"),
        ]
    )
    func target(url: String, host: String, port: Int, hostHeader: String, path: String) throws {
        let target = try #require(OTLPHTTPConnection.Target(url: url))
        #expect(target.host == host)
        #expect(target.port == port)
        #expect(target.hostHeader == hostHeader)
        #expect(target.path == path)
    }

    @Test("https://, other schemes and URLs without a usable host or port are not Kite's connection's", arguments: [
        "https://collector:4318/v1/traces", "ftp://collector/", "http://", "http://:4318/", "http://[::1/", "http://host:0/", "http://host:65536/",
        "http://host:x/",
    ])
    func notTarget(url: String) {
        #expect(OTLPHTTPConnection.Target(url: url) == nil)
    }

    @Test("an https:// destination goes through AsyncHTTPClient (TLS), an http:// one through Kite's connection")
    func transportChoice() {
        #expect(makeOTLPHTTPTransport(url: "https://collector:4318/v1/traces") is AsyncHTTPClientTransport)
        #expect(makeOTLPHTTPTransport(url: "http://collector:4318/v1/traces") is OTLPHTTPConnection)
    }
}

@Suite("OTLP/HTTP: Kite's connection to a real receiver", .enabled(if: Peers.isAvailable("python3")), .timeLimit(.minutes(2)))
struct OTLPConnectionTests {
    /// The trace requests the receiver got.
    static func traceRequests(_ receiver: OTLPReceiver) async throws -> [OTLPReceived.Request] {
        try await receiver.received().requests.filter { $0.path == "/v1/traces" }
    }

    /// Runs `telemetry` and exports one span at a time, four times, each after the last arrived.
    static func exportFourTimes(_ telemetry: Telemetry, to receiver: OTLPReceiver) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await telemetry.run() }
            for round in 1...4 {
                telemetry.tracer.startSpan("round \(round)", context: .topLevel).end()
                await telemetry.forceFlush()
                try await receiver.waitFor("round \(round)") { $0.spans.count == round }
            }
            group.cancelAll()
        }
    }

    @Test("consecutive exports share one keep-alive connection")
    func keepAlive() async throws {
        let receiver = try await OTLPReceiver()
        let (telemetry, _) = otlpTelemetry(receiver, ["OTEL_METRICS_EXPORTER": "none"])
        try await Self.exportFourTimes(telemetry, to: receiver)
        let requests = try await Self.traceRequests(receiver)
        #expect(requests.count == 4)
        #expect(Set(requests.map(\.peerPort)).count == 1, "\(requests.map(\.peerPort))")
        #expect(seriesValue(telemetry.registry, #"kite_otlp_exporter_retries_total{signal="traces"}"#) == 0)
    }

    @Test("a collector that closes the connection after each reply: each export goes on a new one, nothing is retried or lost")
    func connectionClose() async throws {
        let receiver = try await OTLPReceiver()
        let (telemetry, _) = otlpTelemetry(receiver, ["OTEL_METRICS_EXPORTER": "none"])
        try await receiver.control(#"{"close": true, "count": 3}"#)
        try await Self.exportFourTimes(telemetry, to: receiver)
        let requests = try await Self.traceRequests(receiver)
        #expect(requests.map(\.status) == [200, 200, 200, 200])
        // Three replies closed their connection: four connections, none used twice.
        #expect(Set(requests.map(\.peerPort)).count == 4, "\(requests.map(\.peerPort))")
        #expect(seriesValue(telemetry.registry, #"kite_otlp_exporter_retries_total{signal="traces"}"#) == 0)
        #expect(seriesValue(telemetry.registry, "kite_span_exporter_exported_spans_total") == 4)
    }

    @Test("pipelined requests on one connection each get their own reply, in order")
    func pipelined() async throws {
        let receiver = try await OTLPReceiver()
        let connection = try Self.connection(to: receiver.endpoint)
        // The first request is held, then answered 503; the second, queued behind it on the same
        // connection, gets the 200 that follows.
        try await receiver.control(#"{"hang": true}"#)
        try await receiver.control(#"{"status": 503, "count": 1}"#)
        async let first = connection.post(ByteBuffer(), headers: [:], timeout: .seconds(30))
        try await waitUntil("the receiver to hold the first request") { try await receiver.held() == 1 }
        async let second = connection.post(ByteBuffer(), headers: [:], timeout: .seconds(30))
        try await waitUntil("both requests to wait for replies") { try await connection.waitingCount() == 2 }
        try await receiver.release()
        let (firstReply, secondReply) = try await (first, second)
        #expect(firstReply.status == 503)
        #expect(firstReply.retryAfter == nil)
        #expect(String(buffer: firstReply.body) == "collector says no")
        #expect(secondReply.status == 200)
        let requests = try await Self.traceRequests(receiver)
        #expect(requests.map(\.status) == [503, 200])
        #expect(Set(requests.map(\.peerPort)).count == 1)
    }

    @Test("a cancelled request fails at once and closes its connection; the next request goes on a new one")
    func cancelled() async throws {
        let receiver = try await OTLPReceiver()
        let connection = try Self.connection(to: receiver.endpoint)
        try await receiver.control(#"{"hang": true}"#)
        let held = Task { try await connection.post(ByteBuffer(), headers: [:], timeout: .seconds(60)) }
        try await waitUntil("the receiver to hold the request") { try await receiver.held() == 1 }
        held.cancel()
        await #expect(throws: CancellationError.self) { try await held.value }
        try await receiver.release()
        let reply = try await connection.post(ByteBuffer(), headers: [:], timeout: .seconds(30))
        #expect(reply.status == 200)
        // The held request is recorded once the receiver is done with it (its reply goes nowhere).
        try await receiver.waitFor("both requests recorded") { $0.requests.count == 2 }
        let requests = try await Self.traceRequests(receiver)
        #expect(Set(requests.map(\.peerPort)).count == 2, "\(requests.map(\.peerPort))")
    }

    /// A connection to the traces path of the endpoint at `base` (`http://host:port`).
    static func connection(to base: String) throws -> OTLPHTTPConnection {
        OTLPHTTPConnection(target: try #require(OTLPHTTPConnection.Target(url: base + "/v1/traces")))
    }

    /// A SwiftNIO server on 127.0.0.1 (a port the system picks) whose connections end in `handler`,
    /// after SwiftNIO's HTTP/1.1 server codec when `http`.
    static func localServer(http: Bool, _ handler: some ChannelInboundHandler & Sendable) async throws -> (any Channel, Int) {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if http { try channel.pipeline.syncOperations.configureHTTPServerPipeline() }
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return (server, try #require(server.localAddress?.port))
    }

    @Test("a connection nothing refers to any more closes its socket")
    func closesWhenReleased() async throws {
        let replies = EmptyReplies()
        let (server, port) = try await Self.localServer(http: true, replies)
        var connection: OTLPHTTPConnection? = try Self.connection(to: "http://127.0.0.1:\(port)")
        let reply = try await #require(connection).post(ByteBuffer(), headers: [:], timeout: .seconds(10))
        #expect(reply.status == 200)
        #expect(try await #require(connection).isOpen())
        connection = nil
        // The server sees the client's end of the connection close.
        try await waitUntil("the server to see the connection closed") { replies.closedConnections.load(ordering: .relaxed) == 1 }
        try await server.close()
    }

    @Test("a request whose head the HTTP codec refuses fails at once with the codec's error; the next request goes through")
    func refusedHead() async throws {
        let replies = EmptyReplies()
        let (server, port) = try await Self.localServer(http: true, replies)
        let connection = try Self.connection(to: "http://127.0.0.1:\(port)")
        let error = await #expect(throws: (any Error).self) {
            try await connection.post(ByteBuffer(), headers: ["X-Split": "a\r\nInjected: yes"], timeout: .seconds(30))
        }
        #expect(!(error is OTLPHTTPConnection.Failure), "\(String(describing: error))")
        let reply = try await connection.post(ByteBuffer(), headers: ["X-Fine": "yes"], timeout: .seconds(10))
        #expect(reply.status == 200)
        try await server.close()
    }

    @Test("a reply that is not HTTP fails the request with the parser's error and closes the connection")
    func malformedReply() async throws {
        let garbage = GarbageReplies()
        let (server, port) = try await Self.localServer(http: false, garbage)
        let connection = try Self.connection(to: "http://127.0.0.1:\(port)")
        await #expect(throws: HTTPParserError.self) {
            try await connection.post(ByteBuffer(), headers: [:], timeout: .seconds(10))
        }
        try await waitUntil("the connection to close") { try await !connection.isOpen() }
        try await server.close()
    }

    @Test("a refused connection fails the request with a clear error")
    func refused() async throws {
        let receiver = try await OTLPReceiver()
        let connection = try Self.connection(to: receiver.endpoint)
        try await receiver.stop()
        let error = await #expect(throws: (any Error).self) {
            try await connection.post(ByteBuffer(), headers: [:], timeout: .seconds(10))
        }
        #expect("\(error.map { "\($0)" } ?? "")".lowercased().contains("refused"), "\(String(describing: error))")
    }
}

/// Answers every request with an empty 200, and counts the connections that closed.
private final class EmptyReplies: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let closedConnections = Atomic(0)

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = self.unwrapInboundIn(data) else { return }
        let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Content-Length": "0"])
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.closedConnections.add(1, ordering: .relaxed)
        context.fireChannelInactive()
    }
}

/// Answers whatever it reads with bytes that are not an HTTP response.
private final class GarbageReplies: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(string: "HELLO THERE\r\n\r\n")), promise: nil)
    }
}
