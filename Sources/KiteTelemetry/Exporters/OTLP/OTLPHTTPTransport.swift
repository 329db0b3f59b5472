import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// What a collector answered an export with.
struct OTLPHTTPReply: Sendable {
    /// The HTTP status code.
    var status: Int
    /// The `Retry-After` header, if any.
    var retryAfter: String?
    /// The body, or its start: at least the first ``maxKeptBodyBytes`` bytes are kept (a partial
    /// success or an error text is far smaller); the rest is read and dropped.
    var body: ByteBuffer

    /// The most body bytes a transport needs to keep.
    static let maxKeptBodyBytes = 1 << 20
}

/// How ``OTLPHTTPSender`` puts one request on the wire and waits for the reply.
///
/// An `http://` destination gets Kite's own ``OTLPHTTPConnection`` (one keep-alive connection,
/// no per-request machinery beyond the HTTP/1.1 codec); `https://` goes through
/// ``AsyncHTTPClient/HTTPClient/kiteExporter``, which brings TLS.
protocol OTLPHTTPTransport: Sendable {
    /// POSTs `body` with `headers` and returns the reply, or throws when there is none within
    /// `timeout` (or the task is cancelled).
    func post(_ body: ByteBuffer, headers: HTTPHeaders, timeout: Duration) async throws -> OTLPHTTPReply
}

/// The transport for a destination's URL (which ``OTLPExporterConfiguration/problem(withURL:)``
/// accepts): Kite's own connection for `http://`, AsyncHTTPClient for `https://` (TLS), or for a
/// URL Kite's connection cannot parse.
func makeOTLPHTTPTransport(url: String) -> any OTLPHTTPTransport {
    if let target = OTLPHTTPConnection.Target(url: url) {
        return OTLPHTTPConnection(target: target)
    }
    return AsyncHTTPClientTransport(url: url, client: .kiteExporter)
}

/// Requests through an AsyncHTTPClient (used for `https://`).
struct AsyncHTTPClientTransport: OTLPHTTPTransport {
    let url: String
    let client: HTTPClient

    func post(_ body: ByteBuffer, headers: HTTPHeaders, timeout: Duration) async throws -> OTLPHTTPReply {
        var request = HTTPClientRequest(url: self.url)
        request.method = .POST
        request.headers = headers
        request.body = .bytes(body)
        let response = try await self.client.execute(request, timeout: .nanoseconds(max(timeout.clampedNanoseconds, 1)))
        var kept = ByteBuffer()
        for try await chunk in response.body where kept.readableBytes < OTLPHTTPReply.maxKeptBodyBytes {
            var chunk = chunk
            kept.writeBuffer(&chunk)
        }
        return OTLPHTTPReply(status: Int(response.status.code), retryAfter: response.headers.first(name: "Retry-After"), body: kept)
    }
}
