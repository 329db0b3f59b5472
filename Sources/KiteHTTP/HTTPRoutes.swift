import HTTPTypes
import Kite
import KiteTelemetry
import NIOCore

/// The routes of an HTTP server: endpoints with their codecs, and the metrics endpoint.
///
/// ```swift
/// HTTPServer(port: 8080, telemetry: telemetry) { routes in
///     routes.post("/uppercase", uppercase)     // JSON in, JSON out
///     routes.metrics("/metrics")
/// }
/// ```
public struct HTTPRoutes: Sendable {
    /// One route, engine-independent.
    public struct Route: Sendable {
        /// The method.
        public var method: HTTPRequest.Method
        /// The path template.
        public var path: String
        /// Whether requests get a server span (they always get metrics). Scrape and health
        /// routes have none by default, as OpenTelemetry's HTTP instrumentations leave them out.
        public var traced: Bool = true
        /// Answers a request with its collected body.
        public var handler: @Sendable (HTTPRequest, ByteBuffer) async -> HTTPServerResponse
    }

    /// The routes added so far.
    public private(set) var routes: [Route] = []
    let scrapeHandler: PrometheusScrapeHandler

    /// Creates an empty route list whose ``metrics(_:)`` route renders `telemetry`'s registry.
    public init(telemetry: Telemetry) {
        self.scrapeHandler = telemetry.scrapeHandler
    }

    /// Serves `endpoint` at `method path`, decoding and encoding with `codec`.
    public mutating func add<Request, Response>(
        _ method: HTTPRequest.Method,
        _ path: String,
        _ endpoint: Endpoint<Request, Response>,
        codec: HTTPCodec<Request, Response>
    ) {
        self.routes.append(Route(method: method, path: path) { request, body in
            do {
                let decoded = try codec.decode(request, body)
                let response = try await endpoint(decoded)
                return try codec.encode(response)
            } catch {
                return codec.encodeError(error)
            }
        })
    }

    /// Serves `endpoint` at `POST path`, JSON in and out.
    public mutating func post<Request: Decodable, Response: Encodable>(
        _ path: String,
        _ endpoint: Endpoint<Request, Response>,
        codec: HTTPCodec<Request, Response> = .json
    ) {
        self.add(.post, path, endpoint, codec: codec)
    }

    /// Serves `endpoint` at `GET path`; the request is decoded from the request head alone.
    public mutating func get<Request, Response: Encodable>(
        _ path: String,
        _ endpoint: Endpoint<Request, Response>,
        decode: @escaping @Sendable (HTTPRequest) throws -> Request
    ) {
        self.add(.get, path, endpoint, codec: HTTPCodec(
            decode: { request, _ in try decode(request) },
            encode: { response in .json(.ok, try JSONBody.encode(response)) }
        ))
    }

    /// Serves the Prometheus exposition of the telemetry's registry at `GET path`, recorded in
    /// metrics but, unless `traced`, not in spans.
    public mutating func metrics(_ path: String = "/metrics", traced: Bool = false) {
        let scrape = self.scrapeHandler
        self.routes.append(Route(method: .get, path: path, traced: traced) { request, _ in
            let rendered = scrape.respond(
                accept: request.headerFields[.accept],
                acceptEncoding: request.headerFields[.acceptEncoding]
            )
            var fields = HTTPFields()
            fields[.contentType] = rendered.contentType
            if let encoding = rendered.contentEncoding { fields[.contentEncoding] = encoding }
            return HTTPServerResponse(head: HTTPResponse(status: .ok, headerFields: fields), body: rendered.body)
        })
    }

    /// Serves `GET /livez` (200 while the process serves at all) and `GET /readyz` (200 while
    /// `readiness` is ready, 503 before every server listens and from the moment graceful
    /// shutdown starts), both `{"status":"…"}`, recorded in metrics but, unless `traced`, not in
    /// spans. ``HTTPServer`` adds them unless told not to.
    public mutating func health(_ readiness: Readiness, traced: Bool = false) {
        self.routes.append(Route(method: .get, path: "/livez", traced: traced) { _, _ in
            .json(.ok, ByteBuffer(string: #"{"status":"live"}"#))
        })
        self.routes.append(Route(method: .get, path: "/readyz", traced: traced) { _, _ in
            readiness.isReady
                ? .json(.ok, ByteBuffer(string: #"{"status":"ready"}"#))
                : .json(.serviceUnavailable, ByteBuffer(string: #"{"status":"not ready"}"#))
        })
    }
}
