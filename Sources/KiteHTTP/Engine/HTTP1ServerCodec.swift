import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Reads HTTP/1 requests from a connection's bytes (``HTTP1RequestParser``) as swift-http-types'
/// request parts, writes each response (an ``HTTPServerResponse``, head and body together) as
/// HTTP/1 bytes, and owns what only HTTP/1 has: the protocol version and keep-alive.
///
/// A request's head becomes an `HTTPRequest` without SwiftNIO's `HTTPRequestHead` and
/// `HTTPHeaders` in between, an origin-form target (`/path?query`, what clients send) its path as
/// it is. A response is written as one buffer — status line, fields, `Content-Length` (none for
/// 204 and 304) and a body of up to 4 KiB — straight from its `HTTPResponse`: no
/// `Content-Length` field is added to the response, and a `Content-Length` or
/// `Transfer-Encoding` field in it is not written (the length written is the body's). The
/// response keeps the request's version, says `Connection: close` when the connection will close
/// (and closes it once the response is written), and carries no body bytes for `HEAD`. A request
/// the parser rejects is answered 400 with `Connection: close` and the connection closed; if
/// requests read before it are still being answered, the connection closes after their answers
/// instead. Nothing is read after it.
final class HTTP1ServerCodec: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPServerResponse
    typealias OutboundOut = IOData

    /// What the answer to a request needs of its head.
    private struct Exchange {
        var version: HTTPVersion
        var keepAlive: Bool
        var isHead: Bool
    }

    private var parser: HTTP1RequestParser
    /// Bytes read and not yet parsed; `nil` when there are none (no storage kept alive).
    private var unread: ByteBuffer?
    /// One entry per request not yet answered, oldest first: pipelined requests are answered in
    /// order, each in its own version and with its own keep-alive.
    private var exchanges = CircularBuffer<Exchange>(initialCapacity: 1)
    /// The exchange whose response is being written.
    private var current = Exchange(version: .http1_1, keepAlive: true, isHead: false)
    /// Set when the parser failed while requests were still being answered: the connection
    /// closes after the last of their responses.
    private var closeWhenAnswered = false
    /// Whether a request's head was passed on and its end not yet.
    private var insideRequest = false
    /// Set once the parser failed: nothing more is read.
    private var rejected = false

    /// A body at most this long is copied behind its head, so that the response is one buffer.
    private static let maxInlineBody = 4096

    /// - Parameter maxHeadSize: The most bytes a request's head may take.
    init(maxHeadSize: Int) {
        self.parser = HTTP1RequestParser(maxHeadSize: maxHeadSize)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.rejected else { return }
        var bytes = self.unwrapInboundIn(data)
        if var unread = self.unread.take() {
            unread.writeBuffer(&bytes)
            bytes = unread
        }
        do {
            while let part = try self.parser.next(&bytes) {
                switch part {
                case .head(let head):
                    let isHead = head.request.method == .head
                    self.exchanges.append(Exchange(version: head.version, keepAlive: head.keepAlive, isHead: isHead))
                    self.insideRequest = true
                    context.fireChannelRead(self.wrapInboundOut(.head(head.request)))
                case .body(let body):
                    context.fireChannelRead(self.wrapInboundOut(.body(body)))
                case .end(let trailers):
                    self.insideRequest = false
                    context.fireChannelRead(self.wrapInboundOut(.end(trailers)))
                }
            }
        } catch {
            self.reject(context: context)
            return
        }
        if bytes.readableBytes > 0 {
            // Keep only what is left: a long body's earlier bytes are not carried along.
            bytes.discardReadBytes()
            self.unread = bytes
        }
    }

    /// Answers 400 and closes, or — when requests read before the bad one are still being
    /// answered — closes after their answers.
    private func reject(context: ChannelHandlerContext) {
        self.rejected = true
        self.unread = nil
        // A request whose head was read and whose body broke off gets no answer of its own.
        if self.insideRequest { _ = self.exchanges.popLast() }
        if !self.exchanges.isEmpty {
            self.closeWhenAnswered = true
            return
        }
        let answer = ByteBuffer(staticString: "HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(self.wrapOutboundOut(.byteBuffer(answer))).whenComplete { _ in
            loopBound.value.close(promise: nil)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let response = self.unwrapOutboundIn(data)
        self.current = self.exchanges.popFirst() ?? self.current
        // The last answer before a connection the parser gave up on says that it closes.
        if self.closeWhenAnswered && self.exchanges.isEmpty { self.current.keepAlive = false }
        let code = response.head.status.code
        let sendsBody = !self.current.isHead && code != 204 && code != 304
        let inline = sendsBody && response.body.readableBytes <= Self.maxInlineBody
        var buffer = context.channel.allocator.buffer(capacity: 256 + (inline ? response.body.readableBytes : 0))
        self.writeHead(response.head, contentLength: response.body.readableBytes, into: &buffer)
        if inline {
            buffer.writeImmutableBuffer(response.body)
        } else if sendsBody {
            context.write(self.wrapOutboundOut(.byteBuffer(buffer)), promise: nil)
            buffer = response.body
        }
        guard !self.current.keepAlive else {
            context.write(self.wrapOutboundOut(.byteBuffer(buffer)), promise: promise)
            return
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(self.wrapOutboundOut(.byteBuffer(buffer)), promise: written)
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        written.futureResult.whenComplete { result in
            loopBound.value.close(promise: nil)
            promise?.completeWith(result)
        }
    }

    /// Writes the status line and the fields of a response, with its `Content-Length` (none for
    /// 204 and 304, which have no body) and `Connection` as the exchange decided.
    private func writeHead(_ response: HTTPResponse, contentLength: Int, into buffer: inout ByteBuffer) {
        Self.writeStatusLine(response, version: self.current.version, into: &buffer)
        let code = response.status.code
        for field in response.headerFields {
            switch field.name {
            case .connection:
                // Written below, from the exchange's keep-alive.
                if field.value.lowercased() == "close" { self.current.keepAlive = false }
                continue
            case .contentLength, .transferEncoding:
                // The body is framed by its length, written below.
                continue
            default:
                Self.writeField(field, into: &buffer)
            }
        }
        if code != 204 && code != 304 {
            buffer.writeStaticString("content-length: ")
            buffer.writeString(String(contentLength))
            buffer.writeStaticString("\r\n")
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
}
