import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Turns SwiftNIO's parsed HTTP/1 request parts into swift-http-types' parts, writes
/// swift-http-types' response parts as HTTP/1 bytes, and owns what only HTTP/1 has: the protocol
/// version and keep-alive.
///
/// Like `HTTP1ToHTTPServerCodec` of swift-nio-extras, but an origin-form target (`/path?query`,
/// what clients send) becomes the request's path as it is, without a URL parse per request; and a
/// response head is written straight from its `HTTPResponse` into one buffer, without SwiftNIO's
/// `HTTPResponseHead`, `HTTPHeaders` and response encoder in between. The response keeps the
/// request's version, says `Connection: close` when the connection will close (and closes it once
/// the response is written), and carries no body bytes for `HEAD`. ``HTTPRequestHandler`` gives
/// every response a `Content-Length`; one without it would be ended by closing the connection
/// (trailers, which HTTP/1 carries only in chunks, are not sent). A request SwiftNIO's parser
/// rejects is answered 400 with `Connection: close` and the connection closed; if requests read
/// before it are still being answered, the connection closes after their answers instead.
final class HTTP1ToHTTPTypesAdapter: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = IOData

    /// What the answer to a request needs of its head.
    private struct Exchange {
        var version: HTTPVersion
        var keepAlive: Bool
        var isHead: Bool
    }

    /// One entry per request not yet answered, oldest first: pipelined requests are answered in
    /// order, each in its own version and with its own keep-alive.
    private var exchanges = CircularBuffer<Exchange>(initialCapacity: 1)
    /// The exchange whose response is being written.
    private var current = Exchange(version: .http1_1, keepAlive: true, isHead: false)
    /// Whether a final response's head is written and its end is not.
    private var responding = false
    /// Whether the response being written carries a body at all (not `HEAD`, 1xx, 204 or 304).
    private var sendsBody = true
    /// Set when the parser failed while requests were still being answered: the connection
    /// closes after the last of their responses.
    private var closeWhenAnswered = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.exchanges.append(Exchange(version: head.version, keepAlive: head.isKeepAlive, isHead: head.method == .HEAD))
            do {
                context.fireChannelRead(self.wrapInboundOut(.head(try Self.request(head))))
            } catch {
                context.fireErrorCaught(error)
            }
        case .body(let body):
            context.fireChannelRead(self.wrapInboundOut(.body(body)))
        case .end(let trailers):
            context.fireChannelRead(self.wrapInboundOut(.end(trailers.map { HTTPFields($0, splitCookie: false) })))
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch self.unwrapOutboundIn(data) {
        case .head(let response):
            if response.status.kind == .informational {
                var head = context.channel.allocator.buffer(capacity: 64)
                Self.writeStatusLine(response, version: self.current.version, into: &head)
                head.writeStaticString("\r\n")
                context.write(self.wrapOutboundOut(.byteBuffer(head)), promise: promise)
                return
            }
            self.current = self.exchanges.popFirst() ?? self.current
            // The last answer before a connection the parser gave up on says that it closes.
            if self.closeWhenAnswered && self.exchanges.isEmpty { self.current.keepAlive = false }
            self.responding = true
            var head = context.channel.allocator.buffer(capacity: 256)
            self.writeHead(response, into: &head)
            context.write(self.wrapOutboundOut(.byteBuffer(head)), promise: promise)
        case .body(let body):
            guard self.sendsBody, body.readableBytes > 0 else {
                promise?.succeed()
                return
            }
            context.write(self.wrapOutboundOut(.byteBuffer(body)), promise: promise)
        case .end:
            self.responding = false
            guard !self.current.keepAlive else {
                if let promise {
                    // Nothing left to write: the promise completes once what came before is written.
                    context.write(self.wrapOutboundOut(.byteBuffer(ByteBuffer())), promise: promise)
                }
                return
            }
            let written = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(self.wrapOutboundOut(.byteBuffer(ByteBuffer())), promise: written)
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            written.futureResult.whenComplete { result in
                loopBound.value.close(promise: nil)
                promise?.completeWith(result)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is HTTPParserError {
            // The rest of the stream cannot be read: answer 400 and close, or — when requests
            // read before the bad one are still being answered — close after their answers.
            if self.responding || !self.exchanges.isEmpty {
                self.closeWhenAnswered = true
            } else {
                let answer = ByteBuffer(staticString: "HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
                let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
                context.writeAndFlush(self.wrapOutboundOut(.byteBuffer(answer))).whenComplete { _ in
                    loopBound.value.close(promise: nil)
                }
            }
        }
        context.fireErrorCaught(error)
    }

    /// Writes the status line and the fields of a final response, and decides its framing.
    private func writeHead(_ response: HTTPResponse, into buffer: inout ByteBuffer) {
        Self.writeStatusLine(response, version: self.current.version, into: &buffer)
        let code = response.status.code
        var hasLength = false
        var hasTransferEncoding = false
        for field in response.headerFields {
            switch field.name {
            case .connection:
                // Written below, from the exchange's keep-alive.
                if field.value.lowercased() == "close" { self.current.keepAlive = false }
                continue
            case .contentLength: hasLength = true
            case .transferEncoding: hasTransferEncoding = true
            default: break
            }
            Self.writeField(field, into: &buffer)
        }
        self.sendsBody = !self.current.isHead && code >= 200 && code != 204 && code != 304
        if self.sendsBody && !hasLength && !hasTransferEncoding {
            // No length to frame the body with: the end of the connection ends it.
            self.current.keepAlive = false
        }
        if !self.current.keepAlive {
            buffer.writeStaticString("connection: close\r\n")
        } else if self.current.version.minor == 0 {
            buffer.writeStaticString("connection: keep-alive\r\n")
        }
        buffer.writeStaticString("\r\n")
    }

    /// `HTTP/1.1 200 OK\r\n` (the request's version).
    private static func writeStatusLine(_ response: HTTPResponse, version: HTTPVersion, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(version.minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ")
        let code = response.status.code
        buffer.writeInteger(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: code / 100 % 10))
        buffer.writeInteger(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: code / 10 % 10))
        buffer.writeInteger(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: code % 10))
        buffer.writeInteger(UInt8(ascii: " "))
        // A status made from its code alone has no phrase: the standard one, as SwiftNIO writes.
        let phrase = response.status.reasonPhrase
        buffer.writeString(phrase.isEmpty ? HTTPResponseStatus(statusCode: code).reasonPhrase : phrase)
        buffer.writeStaticString("\r\n")
    }

    /// `name: value\r\n`. swift-http-types has already made names tokens and values free of
    /// CR, LF and NUL, so nothing can split the response.
    private static func writeField(_ field: HTTPField, into buffer: inout ByteBuffer) {
        buffer.writeString(field.name.rawName)
        buffer.writeStaticString(": ")
        buffer.writeString(field.value)
        buffer.writeStaticString("\r\n")
    }

    /// The request of `head`: its target as the path when it is in origin form.
    static func request(_ head: HTTPRequestHead) throws -> HTTPRequest {
        guard head.uri.utf8.first == UInt8(ascii: "/") else {
            return try HTTPRequest(head, secure: false, splitCookie: false)
        }
        return HTTPRequest(
            method: try HTTPRequest.Method(head.method),
            scheme: "http",
            authority: head.headers.first(name: "host"),
            path: head.uri,
            headerFields: HTTPFields(head.headers, splitCookie: false)
        )
    }
}
