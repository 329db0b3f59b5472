import Foundation
import HTTPTypes
@testable import KiteHTTP
import KiteTestSupport
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOHTTPTypesHTTP1
import Testing

@Suite("HTTP/1 request parser")
struct HTTP1RequestParserTests {
    /// A parsed part, comparable across parsers and across how the bytes were split.
    enum Event: Equatable, CustomStringConvertible {
        case head(method: String, target: String, authority: String?, minor: Int, keepAlive: Bool, fields: [String])
        case body([UInt8])
        case end(trailers: [String]?)

        var description: String {
            switch self {
            case .head(let method, let target, let authority, let minor, let keepAlive, let fields):
                "head \(method) \(target) authority=\(authority ?? "-") 1.\(minor) keepAlive=\(keepAlive) \(fields)"
            case .body(let bytes): "body \(String(decoding: bytes, as: UTF8.self).debugDescription)"
            case .end(let trailers): "end \(trailers.map { "\($0)" } ?? "-")"
            }
        }
    }

    /// Feeds `bytes` to Kite's parser in pieces that end at `cuts`, as the codec does: what a
    /// piece leaves unread is kept and the next piece appended to it. Bodies are merged.
    static func kite(_ bytes: [UInt8], cuts: [Int] = [], maxHeadSize: Int = 1024) -> Result<[Event], HTTP1ParseError> {
        var parser = HTTP1RequestParser(maxHeadSize: maxHeadSize)
        var events: [Event] = []
        var unread = ByteBuffer()
        var start = 0
        for end in cuts.filter({ $0 > 0 && $0 < bytes.count }).sorted() + [bytes.count] where end > start {
            unread.writeBytes(bytes[start..<end])
            start = end
            do {
                while let part = try parser.next(&unread) {
                    switch part {
                    case .head(let head):
                        let request = head.request
                        events.append(.head(
                            method: request.method.rawValue,
                            target: request.path ?? "",
                            authority: request.authority,
                            minor: head.version.minor,
                            keepAlive: head.keepAlive,
                            fields: request.headerFields.map { "\($0.name.rawName): \($0.value)" }
                        ))
                    case .body(let body):
                        Self.appendBody(Array(body.readableBytesView), to: &events)
                    case .end(let trailers):
                        events.append(.end(trailers: trailers.map { $0.map { "\($0.name.rawName): \($0.value)" } }))
                    }
                }
            } catch {
                return .failure(error)
            }
        }
        return .success(events)
    }

    /// What SwiftNIO's parser (llhttp) reads from the same bytes, in one piece, with its fields
    /// made swift-http-types' fields as the engine made them before it had its own parser, and
    /// whether it refused what came after.
    static func nio(_ bytes: [UInt8]) throws -> (events: [Event], refused: Bool) {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
        defer { _ = try? channel.finish() }
        var refused = false
        do {
            try channel.writeInbound(ByteBuffer(bytes: bytes))
        } catch {
            refused = true
        }
        var events: [Event] = []
        while let part = try channel.readInbound(as: HTTPServerRequestPart.self) {
            switch part {
            case .head(let head):
                events.append(.head(
                    method: head.method.rawValue,
                    target: head.uri,
                    // Without the whitespace after it (part of the line, not of the value; RFC 9112).
                    authority: head.headers.first(name: "host")?.trimmingCharacters(in: [" ", "\t"]),
                    minor: head.version.minor,
                    keepAlive: head.isKeepAlive,
                    fields: HTTPFields(head.headers, splitCookie: false).map { "\($0.name.rawName): \($0.value)" }
                ))
            case .body(let body):
                Self.appendBody(Array(body.readableBytesView), to: &events)
            case .end(let trailers):
                events.append(.end(trailers: trailers.map { HTTPFields($0, splitCookie: false).map { "\($0.name.rawName): \($0.value)" } }))
            }
        }
        return (events, refused)
    }

    static func isEnd(_ event: Event) -> Bool {
        if case .end = event { true } else { false }
    }

    static func hasKnownMethod(_ event: Event) -> Bool {
        guard case .head(let method, _, _, _, _, _) = event else { return true }
        return ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"].contains(method)
    }

    static func appendBody(_ bytes: [UInt8], to events: inout [Event]) {
        if case .body(let before) = events.last {
            events[events.count - 1] = .body(before + bytes)
        } else {
            events.append(.body(bytes))
        }
    }

    /// Requests both parsers must read alike.
    static let wellFormed: [String] = [
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /users/7?x=1&y=%20 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/8.5\r\nAccept: */*\r\n\r\n",
        "POST /uppercase HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 19\r\n\r\n{\"s\":\"hello world\"}",
        "POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n",
        "PUT /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;name=value\r\n!\r\n2;a;b=\"q \\\"x\\\" ;\"\r\n!!\r\n0\r\n\r\n",
        "POST /a HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\nA;x=y\r\n0123456789\r\n0\r\nX-Checksum: abc\r\nX-Other: d\r\n\r\n",
        "GET /old HTTP/1.0\r\n\r\n",
        "GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "GET /bye HTTP/1.1\r\nConnection: close\r\n\r\n",
        "GET /bye HTTP/1.1\r\nConnection: TE, close\r\n\r\n",
        "GET / HTTP/1.1\r\nX-Spaces:   padded value \t \r\nX-Empty:\r\nX-Tab:\tv\r\n\r\n",
        "GET / HTTP/1.1\r\nAccept: a\r\nAccept: b\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n",
        "DELETE /users/1 HTTP/1.1\r\nHost: x\r\n\r\nPATCH /users/2 HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}OPTIONS /x HTTP/1.1\r\n\r\n",
        "\r\n\r\nHEAD /users/7 HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET / HTTP/1.1\r\nTraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\ntracestate: a=1,b=2\r\n\r\n",
    ]

    @Test("reads what SwiftNIO's parser reads — heads, fixed and chunked bodies, trailers, keep-alive, pipelined requests — in one piece and split at every byte")
    func sameAsSwiftNIO() throws {
        for text in Self.wellFormed {
            let bytes = Array(text.utf8)
            let (expected, refused) = try Self.nio(bytes)
            #expect(!refused, "SwiftNIO refused \(text.debugDescription)")
            let whole = Self.kite(bytes)
            #expect(whole == .success(expected), "\(text.debugDescription)")
            for cut in 1..<bytes.count {
                #expect(Self.kite(bytes, cuts: [cut]) == whole, "\(text.debugDescription) cut at \(cut)")
            }
            #expect(Self.kite(bytes, cuts: Array(1..<bytes.count)) == whole, "\(text.debugDescription) a byte at a time")
        }
    }

    @Test("a target in absolute form gives scheme, authority and path; CONNECT's authority form has no path")
    func otherTargetForms() throws {
        var parser = HTTP1RequestParser(maxHeadSize: 1024)
        var absolute = ByteBuffer(string: "GET http://example.com:8080/a/b?c HTTP/1.1\r\nHost: example.com:8080\r\n\r\n")
        guard case .head(let head) = try parser.next(&absolute) else {
            Issue.record("no head")
            return
        }
        #expect(head.request.scheme == "http")
        #expect(head.request.authority == "example.com:8080")
        #expect(head.request.path == "/a/b?c")
        #expect(try parser.next(&absolute).map { if case .end = $0 { true } else { false } } == true)

        var connect = ByteBuffer(string: "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        guard case .head(let tunnel) = try parser.next(&connect) else {
            Issue.record("no head")
            return
        }
        #expect(tunnel.request.method == .connect)
        #expect(tunnel.request.authority == "example.com:443")
        #expect(tunnel.request.path == nil)
    }

    /// Bytes that must be refused, with the reason.
    static let refused: [(String, HTTP1ParseError)] = [
        ("GET / HTTP/1.1\nHost: x\n\n", .bareLineFeed),
        ("GET / HTTP/1.1\r\nHost: x\n\r\n", .bareLineFeed),
        ("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", .malformedField),
        ("GET / HTTP/1.1\r\nX: a\u{0}b\r\n\r\n", .malformedField),
        ("GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", .malformedField),
        ("GET / HTTP/1.1\r\nX : a\r\n\r\n", .malformedField),
        ("GET / HTTP/1.1\r\n: a\r\n\r\n", .malformedField),
        ("GET / HTTP/1.1\r\nNo colon\r\n\r\n", .malformedField),
        ("GET / HTTP/1.1\r\nX(y): a\r\n\r\n", .malformedField),
        ("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", .malformedField),
        ("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", .conflictingFraming),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", .conflictingFraming),
        ("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", .conflictingFraming),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", .conflictingFraming),
        ("POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\nabc", .invalidContentLength),
        ("POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\nabc", .invalidContentLength),
        ("POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", .invalidContentLength),
        ("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", .invalidContentLength),
        ("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", .invalidContentLength),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", .unsupportedTransferEncoding),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", .unsupportedTransferEncoding),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", .malformedChunk),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", .malformedChunk),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n", .malformedChunk),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", .malformedChunk),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3 x\r\nabc\r\n", .malformedChunk),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\n", .malformedChunk),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n", .malformedChunk),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3 ;x\r\nabc\r\n", .malformedChunk),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=\"open\r\nabc\r\n", .malformedChunk),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=a b\r\nabc\r\n", .malformedChunk),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;\r\nabc\r\n", .malformedChunk),
        ("GET / HTTP/2.0\r\n\r\n", .unsupportedVersion),
        ("GET / HTTP/1.2\r\n\r\n", .unsupportedVersion),
        ("GET / NOT-HTTP\r\n\r\n", .malformedRequestLine),
        ("GET /\r\n\r\n", .malformedRequestLine),
        ("GET  / HTTP/1.1\r\n\r\n", .malformedRequestLine),
        ("GET / HTTP/1.1 \r\n\r\n", .malformedRequestLine),
        ("G@T / HTTP/1.1\r\n\r\n", .malformedRequestLine),
        ("GET /a\u{7F}b HTTP/1.1\r\n\r\n", .malformedRequestLine),
        ("GET /caf\u{E9} HTTP/1.1\r\n\r\n", .malformedRequestLine),
        (" GET / HTTP/1.1\r\n\r\n", .malformedRequestLine),
    ]

    @Test("refuses what two readers could read differently: bare LF, CR or NUL in a value, folded lines, space before a colon, Content-Length beside Transfer-Encoding or twice, bad sizes, other codings and versions")
    func refusesAmbiguousBytes() throws {
        for (text, reason) in Self.refused {
            let bytes = Array(text.utf8)
            #expect(Self.kite(bytes) == .failure(reason), "\(text.debugDescription)")
            #expect(Self.kite(bytes, cuts: Array(1..<bytes.count)) == .failure(reason), "\(text.debugDescription) a byte at a time")
        }
    }

    @Test("a head or a trailer section over the limit is refused, whole or still arriving; one at the limit is read")
    func headLimit() throws {
        let head = "GET / HTTP/1.1\r\nX-Big: " + String(repeating: "a", count: 200) + "\r\n\r\n"
        let size = head.utf8.count
        #expect(Self.kite(Array(head.utf8), maxHeadSize: size).map(\.count) == .success(2))
        #expect(Self.kite(Array(head.utf8), maxHeadSize: size - 1) == .failure(.headTooLarge))
        // Still arriving, no end in sight: refused once the bytes pass the limit.
        let endless = Array(("GET / HTTP/1.1\r\nX-Big: " + String(repeating: "a", count: 2000)).utf8)
        #expect(Self.kite(endless, cuts: Array(stride(from: 7, to: endless.count, by: 7)), maxHeadSize: 1024) == .failure(.headTooLarge))
        let trailers = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: " + String(repeating: "t", count: 2000) + "\r\n\r\n"
        #expect(Self.kite(Array(trailers.utf8), maxHeadSize: 1024) == .failure(.headTooLarge))
    }

    @Test("after an error nothing more is read")
    func failedStaysFailed() throws {
        var parser = HTTP1RequestParser(maxHeadSize: 1024)
        var bad = ByteBuffer(string: "GET / HTTP/1.1\nHost: x\n\n")
        #expect(throws: HTTP1ParseError.bareLineFeed) { try parser.next(&bad) }
        var good = ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try parser.next(&good) == nil)
    }

    @Test("20,000 mutated requests: no crash, the same reading (or the same error) whole and split at random, and every request read whole read alike by SwiftNIO's parser")
    func fuzz() async throws {
        var random = SplitMix(seed: 0x4854_5450)
        let alphabet = Array("\r\n :;,\t0123456789abcdefABCDEF-/HTTPGETchunkedContent-LengthTransfer-Encoding\u{0}\u{7F}\u{FF}".utf8)
        for round in 0..<20_000 {
            await shareThreads(round: round)
            var bytes = Array(Self.wellFormed[Int.random(in: 0..<Self.wellFormed.count, using: &random)].utf8)
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let position = Int.random(in: 0...bytes.count, using: &random)
                let byte = alphabet[Int.random(in: 0..<alphabet.count, using: &random)]
                switch Int.random(in: 0..<3, using: &random) {
                case 0 where position < bytes.count: bytes[position] = byte
                case 1 where position < bytes.count: bytes.remove(at: position)
                default: bytes.insert(byte, at: position)
                }
            }
            let cuts = (0..<Int.random(in: 1...6, using: &random)).map { _ in Int.random(in: 1...max(1, bytes.count), using: &random) }
            let whole = Self.kite(bytes, maxHeadSize: 160)
            let split = Self.kite(bytes, cuts: cuts, maxHeadSize: 160)
            #expect(whole == split, "round \(round): \(String(decoding: bytes, as: UTF8.self).debugDescription) cut at \(cuts)")
            // Every request Kite reads whole, llhttp reads alike — unless its method is one llhttp
            // does not know (it refuses those; HTTP allows any token).
            if case .success(var events) = whole {
                while let last = events.last, !Self.isEnd(last) { events.removeLast() }
                if events.allSatisfy(Self.hasKnownMethod) {
                    let nio = try Self.nio(bytes).events
                    #expect(Array(nio.prefix(events.count)) == events, "round \(round): \(String(decoding: bytes, as: UTF8.self).debugDescription)")
                }
            }
        }
    }
}
