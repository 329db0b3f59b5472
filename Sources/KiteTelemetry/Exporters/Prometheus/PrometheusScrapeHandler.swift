import CompressNIO
import NIOCore

/// Answers a Prometheus scrape: renders a registry in the format the `Accept` header asks for,
/// gzip-compressed when `Accept-Encoding` allows it.
///
/// The stand-alone ``PrometheusScrapeServer`` uses it, and so does `KiteHTTP` when a service
/// serves `/metrics` on its own port; mount it in any other server the same way.
public struct PrometheusScrapeHandler: Sendable {
    /// The registry rendered.
    public let registry: MetricRegistry

    /// A rendered scrape.
    public struct Response: Sendable {
        /// `Content-Type` of the body.
        public var contentType: String
        /// `gzip` when the body is compressed.
        public var contentEncoding: String?
        /// The body.
        public var body: ByteBuffer
    }

    /// Creates a handler for `registry`.
    public init(registry: MetricRegistry) {
        self.registry = registry
    }

    /// Renders the registry for a scrape with these request headers.
    public func respond(accept: String?, acceptEncoding: String?) -> Response {
        let format = ExpositionFormat.negotiate(accept: accept)
        var body = ByteBuffer(bytes: self.registry.render(format: format))
        if Self.acceptsGzip(acceptEncoding), let compressed = try? body.compress(with: .gzip()) {
            return Response(contentType: format.contentType, contentEncoding: "gzip", body: compressed)
        }
        return Response(contentType: format.contentType, contentEncoding: nil, body: body)
    }

    /// Whether an `Accept-Encoding` value lists `gzip` (or `*`) with a non-zero quality.
    static func acceptsGzip(_ header: String?) -> Bool {
        guard let header else { return false }
        for coding in header.split(separator: ",") {
            let parts = coding.split(separator: ";").map { $0.trimmingSpaces() }
            guard let name = parts.first?.lowercased(), name == "gzip" || name == "*" else { continue }
            let quality = parts.dropFirst().first { $0.lowercased().hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            return quality > 0
        }
        return false
    }
}
