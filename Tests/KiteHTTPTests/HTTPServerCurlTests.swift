import Foundation
import HTTPTypes
import Kite
import KiteHTTP
import KiteTelemetry
import KiteTestSupport
import NIOSSL
import Synchronization
import Testing
import Tracing
import W3CTraceContext

/// A business error with a status of its own.
struct Unprocessable: ServiceError, CustomStringConvertible {
    var code: ErrorCode { .invalidArgument }
    var httpStatus: Int { 422 }
    var description: String { "cannot process that" }
}

/// What the hooks saw.
final class HookLog: Sendable {
    let errors = Mutex<[String]>([])
    let calls = Mutex<[HTTPServerCallSummary]>([])
}

/// `curl` against an HTTP server with every kind of route and hook: the status paths, path
/// parameters, hooks, keep-alive and hostile input — as a client other than Kite's sends them.
@Suite("HTTP server against curl", .enabled(if: Peers.isAvailable("curl")))
struct HTTPServerCurlTests {
    /// Runs `curl -s` with `arguments`; the body, the status and the HTTP version.
    static func curl(_ arguments: [String], stdin: Data = Data()) async throws -> (body: String, status: Int, version: String, stderr: String) {
        let result = try await runCommandAsync(try Peers.require("curl"), ["-s", "-w", "\n%{http_code} %{http_version}"] + arguments, input: stdin)
        var lines = result.standardOutput.components(separatedBy: "\n")
        let last = lines.removeLast().split(separator: " ")
        return (lines.joined(separator: "\n"), Int(last.first ?? "") ?? -1, String(last.last ?? ""), result.standardError)
    }

    static func withServer(
        _ body: (_ base: String, _ telemetry: Telemetry, _ spans: InMemorySpanExporter, _ hooks: HookLog) async throws -> Void
    ) async throws {
        let hooks = HookLog()
        try await withHTTPServer(makeServer: { telemetry, onListening in
            HTTPServer(
                configuration: .init(host: "127.0.0.1", port: 0, maxBodySize: 1024, maxHeaderSize: 8 << 10),
                telemetry: telemetry,
                onListening: onListening
            ) { routes in
                routes.options.before.append { request, context in
                    if let tenant = request.headerFields[HTTPField.Name("X-Tenant")!] {
                        var baggage = context.baggage ?? Baggage()
                        baggage["tenant"] = tenant
                        context.baggage = baggage
                    }
                }
                routes.options.after.append { _, fields in fields[HTTPField.Name("X-Served-By")!] = "kite" }
                routes.options.errorHandler.append { error, request in
                    hooks.errors.withLock { $0.append("\(request.method.rawValue) \(error)") }
                }
                routes.options.finalizer.append { call in hooks.calls.withLock { $0.append(call) } }
                routes.post("/echo", Endpoint { (request: Echo) in request }.instrumented("echo", telemetry))
                routes.get("/users/:id", Endpoint { (id: String) in Echo(s: "user \(id)") }) { request in
                    try request.parameter("id")
                }
                routes.get("/tenant", Endpoint { (_: Void) in
                    Echo(s: ServiceContext.current?.baggage?["tenant"] ?? "none")
                }) { _ in () }
                routes.post("/unprocessable", Endpoint { (_: Echo) -> Echo in throw Unprocessable() })
                routes.post("/fail", Endpoint { (_: Echo) -> Echo in throw DiskOnFire() })
                routes.add(.put, "/raw", Endpoint { (request: HTTPServerRequest) in
                    HTTPServerResponse(head: HTTPResponse(status: .ok), body: request.body)
                }, codec: .raw)
                routes.metrics()
            }
        }) { base, telemetry, spans in
            try await body(base, telemetry, spans, hooks)
        }
    }

    @Test("every status path: 200, 400, 404, 405 with Allow, 413, a business error's own status, 500")
    func statusPaths() async throws {
        try await Self.withServer { base, telemetry, _, hooks in
            let ok = try await Self.curl(["-X", "POST", "\(base)/echo", "-d", #"{"s":"hi"}"#])
            #expect(ok.status == 200)
            #expect(ok.body == #"{"s":"hi"}"#)

            let malformed = try await Self.curl(["-X", "POST", "\(base)/echo", "-d", #"{"s":"#])
            #expect(malformed.status == 400)
            #expect(malformed.body == #"{"error":"malformed request: body is not valid JSON","code":"INVALID_ARGUMENT"}"#)

            let missing = try await Self.curl(["\(base)/nowhere"])
            #expect(missing.status == 404)
            #expect(missing.body == #"{"error":"no route for GET /nowhere","code":"NOT_FOUND"}"#)

            let wrongMethod = try await Self.curl(["-i", "-X", "DELETE", "\(base)/echo"])
            #expect(wrongMethod.status == 405)
            #expect(wrongMethod.body.lowercased().contains("allow: post"))
            let wrongOnTemplate = try await Self.curl(["-i", "-X", "POST", "\(base)/users/7"])
            #expect(wrongOnTemplate.status == 405)
            #expect(wrongOnTemplate.body.lowercased().contains("allow: get"))

            let large = try await Self.curl(["-X", "POST", "\(base)/echo", "-d", #"{"s":""# + String(repeating: "x", count: 2000) + #""}"#])
            #expect(large.status == 413)
            #expect(large.body.contains("larger than 1024 bytes"))

            let unprocessable = try await Self.curl(["-X", "POST", "\(base)/unprocessable", "-d", #"{"s":"x"}"#])
            #expect(unprocessable.status == 422)
            #expect(unprocessable.body == #"{"error":"cannot process that","code":"INVALID_ARGUMENT"}"#)

            let failed = try await Self.curl(["-X", "POST", "\(base)/fail", "-d", #"{"s":"x"}"#])
            #expect(failed.status == 500)
            #expect(failed.body.contains(#""code":"UNKNOWN""#))

            // The error handler saw every error a route ended in, without changing the answers.
            let errors = hooks.errors.withLock { $0 }
            #expect(errors.contains { $0.hasPrefix("POST malformed request") })
            #expect(errors.contains { $0 == "POST cannot process that" })
            #expect(errors.contains { $0.hasPrefix("POST DiskOnFire") })
            #expect(errors.contains { $0.hasPrefix("POST request body is larger") })

            let metrics = String(decoding: telemetry.registry.render(format: .prometheusText), as: UTF8.self)
            for (route, status) in [("/echo", "200"), ("/echo", "400"), ("/echo", "413"), ("/unprocessable", "422"), ("/fail", "500")] {
                #expect(metrics.contains(#"http_server_request_duration_seconds_count{http_request_method="POST",http_route="\#(route)",http_response_status_code="\#(status)"} 1"#))
            }
            #expect(metrics.contains(#"http_server_request_duration_seconds_count{http_request_method="DELETE",http_route="",http_response_status_code="405"} 1"#))
            #expect(metrics.contains(#"http_server_request_duration_seconds_count{http_request_method="GET",http_route="",http_response_status_code="404"} 1"#))
        }
    }

    @Test("path parameters reach the decoder; raw bodies pass through; before and after hooks and the finalizer run")
    func parametersAndHooks() async throws {
        try await Self.withServer { base, _, spans, hooks in
            let user = try await Self.curl(["\(base)/users/42"])
            #expect(user.body == #"{"s":"user 42"}"#)

            let raw = try await Self.curl(["-X", "PUT", "\(base)/raw", "--data-binary", "\u{1}\u{2}binary"])
            #expect(raw.status == 200)
            #expect(raw.body == "\u{1}\u{2}binary")

            // A before hook puts a header into baggage, which the endpoint reads.
            let tenant = try await Self.curl(["-H", "X-Tenant: acme", "\(base)/tenant"])
            #expect(tenant.body == #"{"s":"acme"}"#)
            let noTenant = try await Self.curl(["\(base)/tenant"])
            #expect(noTenant.body == #"{"s":"none"}"#)

            // The after hook sets a header on every answer, errors included.
            let head = try await Self.curl(["-i", "\(base)/nowhere-at-all"])
            #expect(head.status == 404)
            let served = try await Self.curl(["-i", "\(base)/users/1"])
            #expect(served.body.lowercased().contains("x-served-by: kite"))

            let calls = hooks.calls.withLock { $0 }
            let userCall = try #require(calls.first { $0.path == "/users/42" })
            #expect(userCall.route == "/users/:id")
            #expect(userCall.status == 200)
            #expect(userCall.responseBodySize == #"{"s":"user 42"}"#.utf8.count)
            let rawCall = try #require(calls.first { $0.path == "/raw" })
            #expect(rawCall.requestBodySize == 8)
            #expect(rawCall.duration > .zero)

            // Scrape requests are measured but not traced.
            _ = try await Self.curl(["\(base)/metrics"])
            _ = try await Self.curl(["\(base)/readyz"])
            await Task.yield()
            #expect(!spans.exportedSpans.contains { $0.name.contains("/metrics") || $0.name.contains("/readyz") })
        }
    }

    @Test("pipelining: requests sent in one write are answered in order; a half-closed connection gets every answer, then closes")
    func pipelining() async throws {
        try await Self.withServer { base, _, _, _ in
            func post(_ s: String) -> String {
                let body = #"{"s":"\#(s)"}"#
                return "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            }
            let answer = try await Self.exchangeRaw(base, post("one") + post("two") + "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n" + post("three"))
            // Each response's status line follows the previous body directly.
            let statuses = answer.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix { $0 != "\r\n" } }  // "\r\n" is one Character
            #expect(statuses == ["200 OK", "200 OK", "404 Not Found", "200 OK"], "\(answer)")
            // The end of input may reach the server before or after its last answer is written, so
            // only that last answer may say `Connection: close`; the connection closing is what
            // `exchangeRaw` returning shows.
            let pipelinedAnswers = answer.components(separatedBy: "HTTP/1.1 ").dropFirst()
            #expect(pipelinedAnswers.dropLast().allSatisfy { !$0.lowercased().contains("connection: close") }, "\(answer)")

            // Only the last of three pipelined requests asks to close: the first two are answered
            // with the connection kept, the third with `Connection: close`, then it closes.
            let closingLast = try await Self.exchangeRaw(
                base,
                post("a") + post("b") + "GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                halfClose: false
            )
            let answers = closingLast.components(separatedBy: "HTTP/1.1 ").dropFirst()
            #expect(answers.count == 3, "\(closingLast)")
            #expect(answers.map { $0.lowercased().contains("connection: close") } == [false, false, true])
            let bodies = [#"{"s":"one"}"#, #"{"s":"two"}"#, "/nowhere", #"{"s":"three"}"#].map { answer.range(of: $0)?.lowerBound }
            #expect(bodies.allSatisfy { $0 != nil } && bodies.compactMap { $0 } == bodies.compactMap { $0 }.sorted(), "\(answer)")
        }
    }

    @Test("an HTTP/1.0 client is answered in HTTP/1.0 and its connection closed; a body over the limit gets 413 and Connection: close")
    func http10AndOversizedBodyClose() async throws {
        try await Self.withServer { base, _, _, _ in
            // exchangeRaw returns once the server closes: a connection left open would time out.
            let old = try await Self.exchangeRaw(base, "POST /echo HTTP/1.0\r\nContent-Length: 8\r\n\r\n{\"s\":\"\"}", halfClose: false)
            #expect(old.hasPrefix("HTTP/1.0 200 OK"), "\(old)")
            let big = String(repeating: "x", count: 2000)
            let oversized = try await Self.exchangeRaw(
                base,
                "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: \(big.utf8.count + 8)\r\n\r\n{\"s\":\"\(big)\"}",
                halfClose: false
            )
            #expect(oversized.hasPrefix("HTTP/1.1 413 "), "\(oversized.prefix(200))")
            #expect(oversized.lowercased().contains("connection: close"))
        }
    }

    @Test("a HEAD answer is the head alone; a request the parser rejects gets 400 and the connection closes, after the answers before it")
    func headAndParseError() async throws {
        try await Self.withServer { base, _, _, _ in
            // /users/:id is served for GET only: HEAD gets 405 with its Content-Length but no
            // body, and the GET after it on the same connection starts right after the empty line.
            let both = try await Self.exchangeRaw(
                base,
                "HEAD /users/7 HTTP/1.1\r\nHost: x\r\n\r\nGET /users/7 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                halfClose: false
            )
            #expect(both.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"), "\(both)")
            let headAnswer = both.components(separatedBy: "HTTP/1.1 200 OK\r\n").first ?? ""
            #expect(headAnswer.lowercased().contains("content-length: "), "\(headAnswer)")
            #expect(headAnswer.hasSuffix("\r\n\r\n") && !headAnswer.contains("error"), "\(headAnswer)")
            #expect(both.hasSuffix(#"{"s":"user 7"}"#), "\(both)")

            // exchangeRaw returns once the server closes the connection.
            let garbage = try await Self.exchangeRaw(base, "GET /users/1 NOT-HTTP\r\n\r\n", halfClose: false)
            #expect(garbage.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(garbage)")
            #expect(garbage.lowercased().contains("connection: close"))
            #expect(garbage.lowercased().contains("content-length: 0"))

            // A good request and then garbage in one write: the good one is answered, then the
            // connection closes.
            let goodThenBad = try await Self.exchangeRaw(
                base,
                "GET /users/2 HTTP/1.1\r\nHost: x\r\n\r\nGET /users/3 NOT-HTTP\r\n\r\n",
                halfClose: false
            )
            #expect(goodThenBad.hasPrefix("HTTP/1.1 200 OK\r\n") && goodThenBad.hasSuffix(#"{"s":"user 2"}"#), "\(goodThenBad)")
            #expect(goodThenBad.lowercased().contains("connection: close"), "\(goodThenBad)")
        }
    }

    @Test("keep-alive: curl reuses one connection for several requests")
    func keepAlive() async throws {
        try await Self.withServer { base, _, _, _ in
            let result = try await Self.curl(["-v", "\(base)/users/1", "\(base)/users/2", "\(base)/users/3"])
            #expect(result.body.contains(#"{"s":"user 1"}"#) && result.body.contains(#"{"s":"user 3"}"#))
            let connects = result.stderr.components(separatedBy: "Connected to").count - 1
            #expect(connects == 1, "\(result.stderr)")
            #expect(result.stderr.contains("Re-using existing connection") || result.stderr.contains("Reusing existing connection"))
        }
    }

    @Test("h2c: curl --http2-prior-knowledge gets HTTP/2 answers on the same port as HTTP/1.1; one connection carries several requests")
    func h2c() async throws {
        try await Self.withServer { base, telemetry, _, _ in
            let http2 = try await Self.curl(["--http2-prior-knowledge", "-X", "POST", "\(base)/echo", "-d", #"{"s":"h2c"}"#])
            #expect(http2.status == 200)
            #expect(http2.version == "2")
            #expect(http2.body == #"{"s":"h2c"}"#)
            let http1 = try await Self.curl(["--http1.1", "-X", "POST", "\(base)/echo", "-d", #"{"s":"h1"}"#])
            #expect(http1.version == "1.1")
            #expect(http1.body == #"{"s":"h1"}"#)
            let wrongMethod = try await Self.curl(["--http2-prior-knowledge", "-X", "DELETE", "\(base)/echo"])
            #expect(wrongMethod.status == 405)

            // Several streams, one after another, on one HTTP/2 connection (Python's h2 state machine).
            let port = try #require(base.split(separator: ":").last.map(String.init))
            let script = OTLPReceiver.peersDirectory.appendingPathComponent("h2_requests.py").path
            let streams = try await runCommandAsync(try Peers.require("python3"), [script, port, "/users/1", "/readyz", "/nowhere"])
            #expect(streams.status == 0, "\(streams.standardError)")
            #expect(streams.standardOutput == "/users/1 200\n/readyz 200\n/nowhere 404\n")
            let metrics = String(decoding: telemetry.registry.render(format: .prometheusText), as: UTF8.self)
            #expect(metrics.contains(#"http_server_request_duration_seconds_count{http_request_method="GET",http_route="/users/:id",http_response_status_code="200"} 1"#))
        }
    }

    @Test("with TLS configured: HTTP/2 and HTTP/1.1 over TLS, chosen by ALPN", .enabled(if: Peers.isAvailable("openssl")))
    func tls() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kite-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let key = folder.appendingPathComponent("key.pem").path
        let certificate = folder.appendingPathComponent("cert.pem").path
        try await runCommandAsync(try Peers.require("openssl"), [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", certificate, "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ]).requireSuccess()
        let tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        )
        try await withHTTPServer(makeServer: { telemetry, onListening in
            HTTPServer(configuration: .init(host: "127.0.0.1", port: 0, tls: tls), telemetry: telemetry, onListening: onListening) { routes in
                routes.post("/echo", Endpoint { (request: Echo) in request })
            }
        }) { base, _, _ in
            let url = base.replacingOccurrences(of: "http://", with: "https://") + "/echo"
            let http2 = try await Self.curl(["--cacert", certificate, "--http2", "-X", "POST", url, "-d", #"{"s":"tls"}"#])
            #expect(http2.status == 200)
            #expect(http2.version == "2")
            #expect(http2.body == #"{"s":"tls"}"#)
            let http1 = try await Self.curl(["--cacert", certificate, "--http1.1", "-X", "POST", url, "-d", #"{"s":"tls1"}"#])
            #expect(http1.version == "1.1")
            #expect(http1.body == #"{"s":"tls1"}"#)
            // Cleartext to a TLS port gets no answer.
            let cleartext = try await Self.curl(["-X", "POST", "\(base)/echo", "-d", #"{"s":"x"}"#])
            #expect(cleartext.status != 200)
        }
    }

    @Test("W3C trace context on the wire: header names in any case, repeated tracestate fields combined, invalid members dropped")
    func traceContextOnTheWire() async throws {
        try await Self.withServer { base, telemetry, spans, _ in
            let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
            let parentID = "00f067aa0ba902b7"
            let result = try await Self.curl([
                "-H", "TraceParent: 00-\(traceID)-\(parentID)-01",
                "-H", "tracestate: rojo=1,Bad=2",
                "-H", "TRACESTATE: congo=3",
                "\(base)/users/1",
            ])
            #expect(result.status == 200)
            await telemetry.forceFlush()
            let server = try #require(spans.exportedSpans.first { $0.name == "GET /users/:id" })
            #expect(server.context.traceID.description == traceID)
            #expect(server.context.parentSpanID?.description == parentID)
            #expect(server.context.traceState.map { "\($0.vendor.rawValue)=\($0.value)" } == ["rojo=1", "congo=3"])

            // An upper-case traceparent is not one: the trace restarts.
            _ = try await Self.curl(["-H", "traceparent: 00-\(traceID.uppercased())-\(parentID)-01", "\(base)/users/2"])
            await telemetry.forceFlush()
            let restarted = try #require(spans.exportedSpans.last { $0.name == "GET /users/:id" })
            #expect(restarted.context.traceID.description != traceID)
            #expect(restarted.context.parentSpanID == nil)
        }
    }

    @Test("hostile input: a head over the limit, invalid UTF-8 in JSON, a truncated body, a client gone mid-request — then a request succeeds")
    func hostile() async throws {
        try await Self.withServer { base, _, _, _ in
            let oversized = try await Self.curl(["-H", "X-Big: " + String(repeating: "a", count: 9000), "\(base)/users/1"])
            #expect(oversized.status == 400)
            let atLimit = try await Self.curl(["-H", "X-Fits: " + String(repeating: "a", count: 4000), "\(base)/users/1"])
            #expect(atLimit.status == 200)

            let invalidUTF8 = try await Self.curl([
                "-X", "POST", "\(base)/echo", "-H", "Content-Type: application/json", "--data-binary", "@-",
            ] + [], stdin: Data([0x7B, 0x22, 0x73, 0x22, 0x3A, 0x22, 0xC3, 0x28, 0x22, 0x7D]))
            #expect(invalidUTF8.status == 400)
            #expect(invalidUTF8.body.contains("INVALID_ARGUMENT"))

            // A body shorter than its Content-Length, then the client closes: the server must
            // neither hang nor crash.
            try await Self.sendRaw(base, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"s\":")
            // A client that sends half a head and leaves.
            try await Self.sendRaw(base, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Len")

            let after = try await Self.curl(["-X", "POST", "\(base)/echo", "-d", #"{"s":"still here"}"#])
            #expect(after.status == 200)
            #expect(after.body == #"{"s":"still here"}"#)
        }
    }

    @Test("request framing: a chunked body with trailers is read; Content-Length beside Transfer-Encoding, a repeated Content-Length and a bare LF are answered 400 and the connection closed")
    func framing() async throws {
        try await Self.withServer { base, _, _, _ in
            let chunked = try await Self.curl([
                "-X", "POST", "\(base)/echo", "-H", "Transfer-Encoding: chunked", "-d", #"{"s":"in chunks"}"#,
            ])
            #expect(chunked.status == 200)
            #expect(chunked.body == #"{"s":"in chunks"}"#)
            let withTrailers = try await Self.exchangeRaw(
                base,
                "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"s\":\r\n5;ext=1\r\n\"ab\"}\r\n0\r\nX-Sum: 1\r\n\r\n"
            )
            #expect(withTrailers.hasPrefix("HTTP/1.1 200 OK\r\n") && withTrailers.hasSuffix(#"{"s":"ab"}"#), "\(withTrailers)")
            for smuggled in [
                "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /users/1 HTTP/1.1\r\n\r\n",
                "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\nContent-Length: 0\r\n\r\n{\"s\":\"\"}",
                "GET /users/1 HTTP/1.1\nHost: x\n\n",
            ] {
                // Not half-closed: the answer ends because the server closes the connection.
                let answer = try await Self.exchangeRaw(base, smuggled, halfClose: false)
                #expect(answer == "HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n", "\(smuggled.debugDescription)")
            }
        }
    }

    @Test("400 connections cut before their protocol is known — reset at once, after part of the HTTP/2 preface, after all of it, or closed empty — leave the server serving")
    func cutBeforeProtocol() async throws {
        try await Self.withServer { base, _, _, _ in
            let port = try #require(Int(base.split(separator: ":").last ?? ""))
            // 400 connections, 100 of each kind, 50 at a time; a reset is a close with SO_LINGER 0.
            let result = try await runCommandAsync(try Peers.require("python3"), [
                "-c",
                """
                import socket, struct
                preface = b'PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n'
                kinds = [b'', preface[:10], preface, None]
                for batch in range(8):
                    sockets = []
                    for i in range(50):
                        s = socket.create_connection(('127.0.0.1', \(port)))
                        sockets.append((s, kinds[(batch * 50 + i) % 4]))
                    for s, data in sockets:
                        if data:
                            s.sendall(data)
                        if data is None:
                            s.close()
                        else:
                            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
                            s.close()
                print('done')
                """,
            ])
            try result.requireSuccess()
            let after = try await Self.curl(["-X", "POST", "\(base)/echo", "-d", #"{"s":"still here"}"#])
            #expect(after.status == 200)
        }
    }

    /// Writes `text` on a new connection to the server, half-closes it (unless told not to), and
    /// returns everything the server sends until it closes the connection (at most 10 s).
    static func exchangeRaw(_ base: String, _ text: String, halfClose: Bool = true) async throws -> String {
        let port = try #require(Int(base.split(separator: ":").last ?? ""))
        let result = try await runCommandAsync(try Peers.require("python3"), [
            "-c",
            """
            import socket,sys
            s=socket.create_connection(('127.0.0.1',\(port)), timeout=10)
            s.sendall(sys.stdin.buffer.read())
            if \(halfClose ? "True" : "False"): s.shutdown(socket.SHUT_WR)
            data=b''
            while True:
                chunk=s.recv(65536)
                if not chunk: break
                data+=chunk
            sys.stdout.buffer.write(data)
            """,
        ], input: Data(text.utf8))
        try result.requireSuccess()
        return result.standardOutput
    }

    /// Writes `text` on a new connection to the server and closes it.
    static func sendRaw(_ base: String, _ text: String) async throws {
        let port = try #require(Int(base.split(separator: ":").last ?? ""))
        try await runCommandAsync(try Peers.require("python3"), [
            "-c",
            "import socket,sys; s=socket.create_connection(('127.0.0.1',\(port))); s.sendall(sys.stdin.buffer.read()); s.close()",
        ], input: Data(text.utf8)).requireSuccess()
    }
}

extension CommandResult {
    /// Throws unless the command exited 0.
    func requireSuccess() throws {
        struct Failed: Error, CustomStringConvertible {
            let description: String
        }
        guard self.status == 0 else { throw Failed(description: "exit \(self.status): \(self.standardError)") }
    }
}
