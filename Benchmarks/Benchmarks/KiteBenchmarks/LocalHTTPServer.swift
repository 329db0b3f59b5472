import NIOCore
import NIOHTTP1
import NIOPosix

/// A local HTTP/1.1 endpoint that reads each request and answers `200` with a fixed body: the
/// collector of the end-to-end OTLP benchmark and the server of the client benchmarks, doing as
/// little as a server can.
final class LocalHTTPServer: Sendable {
    let channel: any Channel
    var port: Int { self.channel.localAddress?.port ?? 0 }

    /// Starts a server answering every request with `answer` as `contentType`.
    init(answer: String = "", contentType: String) throws {
        let responder = Responder(answer: answer, contentType: contentType)
        self.channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(responder)
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .wait()
    }

    private final class Responder: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let answer: String
        let contentType: String

        init(answer: String, contentType: String) {
            self.answer = answer
            self.contentType = contentType
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = self.unwrapInboundIn(data) else { return }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Length", value: String(self.answer.utf8.count))
            headers.add(name: "Content-Type", value: self.contentType)
            context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            if !self.answer.isEmpty {
                context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: self.answer)))), promise: nil)
            }
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
