import NIOCore
import KiteTestSupport
import NIOEmbedded
import Testing

@_spi(Benchmarks) @testable import KiteNATS

@Suite("The NATS protocol: operations from the server, headers, subjects, addresses")
struct NATSProtocolTests {
    /// What a decoder makes of `bytes`, fed `chunk` bytes at a time.
    private func decode(_ bytes: String, chunk: Int = .max, maxMessageSize: Int = 1 << 20) throws -> [NATSServerOperation] {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(NATSOperationDecoder(maxControlLine: 256, maxMessageSize: maxMessageSize)))
        var rest = Substring(bytes)
        while !rest.isEmpty {
            let piece = rest.utf8.prefix(chunk)
            try channel.writeInbound(ByteBuffer(bytes: Array(piece)))
            rest = Substring(rest.utf8.dropFirst(piece.count))
        }
        var operations: [NATSServerOperation] = []
        while let operation = try channel.readInbound(as: NATSServerOperation.self) { operations.append(operation) }
        _ = try? channel.finish()
        return operations
    }

    private let stream =
        "INFO {\"server_id\":\"S1\",\"version\":\"2.9.10\",\"max_payload\":1048576,\"headers\":true}\r\n"
        + "PING\r\nPONG\r\n+OK\r\n"
        + "MSG orders.new 7 5\r\nhello\r\n"
        + "MSG orders.new 7 _INBOX.abc.1 0\r\n\r\n"
        + "HMSG _INBOX.abc.2 3 30 30\r\nNATS/1.0 503 No Responders\r\n\r\n\r\n"
        + "HMSG s 4 r 42 45\r\nNATS/1.0\r\nTraceparent: 00-a-b-01\r\nA: 1\r\n\r\nxyz\r\n"
        + "-ERR 'Unknown Protocol Operation'\r\n"

    @Test("every operation, whole or split at every byte")
    func operations() throws {
        for chunk in [Int.max, 1, 2, 7] {
            let operations = try self.decode(self.stream, chunk: chunk)
            try #require(operations.count == 9, "chunks of \(chunk)")
            guard case .info(let info) = operations[0] else { Issue.record("not INFO"); continue }
            #expect(info.serverID == "S1" && info.maxPayload == 1_048_576 && info.headers)
            guard case .ping = operations[1], case .pong = operations[2], case .ok = operations[3] else {
                Issue.record("not PING PONG +OK")
                continue
            }
            guard case .message(7, let first) = operations[4], case .message(7, let second) = operations[5],
                case .message(3, let noResponders) = operations[6], case .message(4, let withHeaders) = operations[7],
                case .error(let error) = operations[8]
            else {
                Issue.record("not the messages")
                continue
            }
            #expect(first.subject == "orders.new" && first.replyTo == nil && String(buffer: first.payload) == "hello")
            #expect(second.replyTo == "_INBOX.abc.1" && second.payload.readableBytes == 0)
            #expect(noResponders.isNoResponders && noResponders.headers?.statusDescription == "No Responders")
            #expect(withHeaders.headers?["traceparent"] == "00-a-b-01" && withHeaders.headers?["a"] == "1")
            #expect(String(buffer: withHeaders.payload) == "xyz" && withHeaders.replyTo == "r")
            #expect(error == "Unknown Protocol Operation")
        }
    }

    @Test(
        "malformed input is a protocol violation",
        arguments: [
            "BOGUS\r\n",
            "MSG a 1\r\n",
            "MSG a x 1\r\nx\r\n",
            "MSG a 1 -1\r\n",
            "MSG a 1 3\r\nabcde\r\n",  // not followed by CRLF
            "HMSG a 1 10 5\r\n",  // headers larger than the message
            "HMSG a 1 4 4\r\nHTTP\r\n",  // headers not NATS/1.0
            "INFO {not json}\r\n",
            "MSG a 1 99999999999999999999\r\n",
        ]
    )
    func malformed(input: String) {
        #expect(throws: NATSError.self) { _ = try self.decode(input) }
    }

    @Test("limits hold before anything past them is buffered: a long control line, a message over the limit")
    func limits() {
        // No line end within the limit: refused without waiting for one.
        #expect(throws: NATSError.protocolViolation("control line longer than 256 bytes")) {
            _ = try self.decode("MSG " + String(repeating: "a", count: 400))
        }
        // A message over the limit is refused from its control line, before its payload arrives.
        #expect(throws: NATSError.protocolViolation("message of 2000 bytes exceeds the limit of 1024")) {
            _ = try self.decode("MSG a 1 2000\r\n", maxMessageSize: 1024)
        }
    }

    @Test("random and mutated frames never crash the decoder: each gives operations or a clear error")
    func fuzz() async throws {
        var random = SplitMix(seed: 0x5eed)
        let valid = Array(self.stream.utf8)
        var outcomes = (decoded: 0, refused: 0)
        for round in 0..<3000 {
            await shareThreads(round: round)
            var bytes: [UInt8]
            if round % 3 == 0 {
                bytes = (0..<Int(random.next() % 200)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            } else {
                bytes = valid
                for _ in 0..<(1 + Int(random.next() % 6)) {
                    let index = Int(random.next() % UInt64(bytes.count))
                    switch random.next() % 3 {
                    case 0: bytes[index] = UInt8(truncatingIfNeeded: random.next())
                    case 1: bytes.remove(at: index)
                    default: bytes.insert(UInt8(ascii: "9"), at: index)
                    }
                }
            }
            let channel = EmbeddedChannel(handler: ByteToMessageHandler(NATSOperationDecoder(maxControlLine: 256, maxMessageSize: 4096)))
            do {
                try channel.writeInbound(ByteBuffer(bytes: bytes))
                while try channel.readInbound(as: NATSServerOperation.self) != nil {}
                outcomes.decoded += 1
            } catch is NATSError {
                outcomes.refused += 1
            } catch {
                Issue.record("unexpected error \(error)")
            }
            _ = try? channel.finish()
        }
        #expect(outcomes.decoded > 0 && outcomes.refused > 0)
    }

    @Test("headers: written as NATS/1.0 lines, read back, looked up without case; CR or LF in a value is refused")
    func headers() throws {
        var headers = NATSHeaders(["traceparent": "00-x-y-01", "Kite-Timeout": "250"])
        headers.add(name: "Baggage", value: "a=1")
        headers.add(name: "baggage", value: "b=2")
        #expect(headers["KITE-TIMEOUT"] == "250")
        #expect(headers.values(for: "BAGGAGE") == ["a=1", "b=2"])
        headers["Baggage"] = "c=3"
        #expect(headers.values(for: "baggage") == ["c=3"])
        var buffer = ByteBuffer()
        try headers.write(to: &buffer)
        #expect(String(buffer: buffer) == "NATS/1.0\r\ntraceparent: 00-x-y-01\r\nKite-Timeout: 250\r\nBaggage: c=3\r\n\r\n")
        #expect(try NATSHeaders.parse(buffer) == headers)

        var hostile = NATSHeaders()
        hostile["X"] = "a\r\nPUB evil 1"
        #expect(throws: NATSError.invalidHeader(name: "X")) {
            var out = ByteBuffer()
            try hostile.write(to: &out)
        }
        var badName = NATSHeaders()
        badName["a b"] = "1"
        #expect(throws: NATSError.invalidHeader(name: "a b")) {
            var out = ByteBuffer()
            try badName.write(to: &out)
        }
    }

    @Test("commands: PUB, HPUB with sizes that count headers and payload, SUB with a queue, UNSUB with a maximum")
    func commands() throws {
        var buffer = ByteBuffer()
        try buffer.writeNATSPublish(subject: "a.b", replyTo: nil, headers: nil, payload: ByteBuffer(string: "hi"))
        let size = try buffer.writeNATSPublish(subject: "a", replyTo: "r", headers: NATSHeaders(["K": "v"]), payload: ByteBuffer(string: "xyz"))
        buffer.writeNATSSubscribe(subject: "a.*", queue: "q", sid: 12)
        buffer.writeNATSUnsubscribe(sid: 12, after: 3)
        #expect(size == 21)
        #expect(String(buffer: buffer) == "PUB a.b 2\r\nhi\r\nHPUB a r 18 21\r\nNATS/1.0\r\nK: v\r\n\r\nxyz\r\nSUB a.* q 12\r\nUNSUB 12 3\r\n")
    }

    @Test("subjects: wildcards only as whole tokens and in subscriptions, no empty tokens or white space")
    func subjects() {
        for valid in ["a", "a.b", "a.*.c", "a.>", "*", ">", "a-b_c.d$e", "a*b"] { #expect(NATSSubject.isValidFilter(valid), "\(valid)") }
        for invalid in ["", ".a", "a.", "a..b", "a b", "a\tb", "a.>.b", "a.\r\n"] { #expect(!NATSSubject.isValidFilter(invalid), "\(invalid)") }
        #expect(NATSSubject.isValidPublish("a.b") && NATSSubject.isValidPublish("a*b"))
        #expect(!NATSSubject.isValidPublish("a.*") && !NATSSubject.isValidPublish(">"))
    }

    @Test("server addresses: scheme, credentials, IPv6, default port; bad ones refused")
    func addresses() throws {
        let plain = try NATSServerAddress("nats://127.0.0.1:4223")
        #expect(plain.host == "127.0.0.1" && plain.port == 4223 && plain.user == nil)
        let user = try NATSServerAddress("nats://kite:p%40ss@host")
        #expect(user.user == "kite" && user.password == "p@ss" && user.port == 4222)
        let token = try NATSServerAddress("tok3n@[::1]:5000")
        #expect(token.token == "tok3n" && token.host == "::1" && token.port == 5000)
        #expect(token.description == "nats://[::1]:5000")
        for bad in ["http://host:4222", "nats://host:0", "nats://host:x", "nats://", "nats://host/path"] {
            #expect(throws: NATSError.self, "\(bad)") { _ = try NATSServerAddress(bad) }
        }
    }

    @Test("errors cross as headers and come back as the same code and message")
    func errorHeaders() throws {
        struct Limited: ServiceErrorForTest {}
        let (headers, body) = NATSErrorHeaders.answer(NATSError.malformedRequest("missing field 'a'"))
        #expect(headers["Kite-Error-Code"] == "INVALID_ARGUMENT")
        #expect(headers["Nats-Service-Error-Code"] == "400")
        #expect(String(buffer: body) == #"{"error":"malformed request: missing field 'a'","code":"INVALID_ARGUMENT"}"#)
        let remote = try #require(NATSErrorHeaders.remoteError(in: NATSMessage(subject: "r", headers: headers, payload: body)))
        #expect(remote.code == .invalidArgument && remote.message == "malformed request: missing field 'a'")

        let (limited, _) = NATSErrorHeaders.answer(Limited())
        #expect(limited["Retry-After"] == "2")
        // A NATS micro service that is not Kite's: the status alone gives the code.
        let micro = NATSHeaders(["Nats-Service-Error": "boom", "Nats-Service-Error-Code": "503"])
        #expect(NATSErrorHeaders.remoteError(in: NATSMessage(subject: "r", headers: micro, payload: ByteBuffer()))?.code == .unavailable)
        #expect(NATSErrorHeaders.remoteError(in: NATSMessage(subject: "r", headers: NATSHeaders(["A": "b"]), payload: ByteBuffer())) == nil)
    }
}

import Kite

/// A rate-limited error that says when to come back (1.5 s, sent as 2).
private protocol ServiceErrorForTest: ServiceError {}
extension ServiceErrorForTest {
    var code: ErrorCode { .resourceExhausted }
    var retryAfter: Duration? { .milliseconds(1500) }
}
