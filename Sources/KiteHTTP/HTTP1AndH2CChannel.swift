import HummingbirdCore
import HummingbirdHTTP2
import Logging
import NIOCore

/// Serves HTTP/1.1 and cleartext HTTP/2 ("h2c" with prior knowledge) on one port: each
/// connection's first bytes decide — the HTTP/2 connection preface (`PRI * HTTP/2.0…`) gets
/// Hummingbird's HTTP/2 channel, anything else its HTTP/1.1 channel.
///
/// (Hummingbird offers HTTP/1.1 alone, h2c alone, or both over TLS through ALPN; a plaintext port
/// that speaks both is what load balancers and `curl --http2-prior-knowledge` expect of a
/// service behind a mesh.)
struct HTTP1AndH2CChannel: ServerChildChannel {
    /// The protocol a connection turned out to speak, once its first bytes arrived.
    enum Negotiated: Sendable {
        case http1(HTTP1Channel.Value)
        case http2(HTTP2Channel.Value)
    }

    struct Value: ServerChildChannelValue {
        let negotiated: EventLoopFuture<Negotiated>
        let channel: any Channel
    }

    let http1: HTTP1Channel
    let http2: HTTP2Channel

    init(responder: @escaping HTTPChannelHandler.Responder, configuration: HTTP1Channel.Configuration) {
        self.http1 = HTTP1Channel(responder: responder, configuration: configuration)
        self.http2 = HTTP2Channel(responder: responder, configuration: .init(streamConfiguration: configuration))
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let negotiated = channel.eventLoop.makePromise(of: Negotiated.self)
        let sniffer = HTTPPrefaceSniffer(negotiated: negotiated) { isHTTP2 in
            isHTTP2
                ? self.http2.setup(channel: channel, logger: logger).map { .http2($0) }
                : self.http1.setup(channel: channel, logger: logger).map { .http1($0) }
        }
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(sniffer)
            return Value(negotiated: negotiated.futureResult, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.negotiated.get() {
            case .http1(let http1): await self.http1.handle(value: http1, logger: logger)
            case .http2(let http2): await self.http2.handle(value: http2, logger: logger)
            }
        } catch {
            logger.debug("connection closed before its protocol was known: \(error)")
        }
    }
}
