import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Turns SwiftNIO's HTTP/1 parts into swift-http-types' parts and back, and owns what only
/// HTTP/1 has: the protocol version and keep-alive.
///
/// Like `HTTP1ToHTTPServerCodec` of swift-nio-extras, but an origin-form target (`/path?query`,
/// what clients send) becomes the request's path as it is, without a URL parse per request; the
/// response keeps the request's version, says `Connection: close` when the connection will close
/// (and closes it once the response is written), and carries no body bytes for `HEAD`.
final class HTTP1ToHTTPTypesAdapter: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPServerResponsePart

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
            self.current = self.exchanges.popFirst() ?? self.current
            var headers = HTTPHeaders(response.headerFields)
            if response.headerFields[.connection]?.lowercased() == "close" { self.current.keepAlive = false }
            if !self.current.keepAlive {
                headers.replaceOrAdd(name: "connection", value: "close")
            } else if self.current.version.minor == 0 {
                headers.replaceOrAdd(name: "connection", value: "keep-alive")
            }
            let head = HTTPResponseHead(
                version: self.current.version,
                status: HTTPResponseStatus(statusCode: response.status.code, reasonPhrase: response.status.reasonPhrase),
                headers: headers
            )
            context.write(self.wrapOutboundOut(.head(head)), promise: promise)
        case .body(let body):
            if self.current.isHead {
                promise?.succeed()
            } else {
                context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: promise)
            }
        case .end(let trailers):
            guard !self.current.keepAlive else {
                context.write(self.wrapOutboundOut(.end(trailers.map(HTTPHeaders.init))), promise: promise)
                return
            }
            let written = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(self.wrapOutboundOut(.end(trailers.map(HTTPHeaders.init))), promise: written)
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            written.futureResult.whenComplete { result in
                loopBound.value.close(promise: nil)
                promise?.completeWith(result)
            }
        }
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
