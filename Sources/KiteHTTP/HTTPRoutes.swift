import HTTPTypes
import Kite
import KiteTelemetry
import NIOCore

/// The routes of an HTTP server: endpoints with their codecs, and the metrics endpoint.
///
/// ```swift
/// HTTPServer(port: 8080, telemetry: telemetry) { routes in
///     routes.post("/uppercase", uppercase)     // JSON in, JSON out
///     routes.get("/users/:id", user) { request in UserID(try request.parameter("id")) }
///     routes.metrics("/metrics")
/// }
/// ```
public struct HTTPRoutes: Sendable {
    /// One route, engine-independent.
    public struct Route: Sendable {
        /// The method.
        public var method: HTTPRequest.Method
        /// The path template: literal segments, `:name` for a parameter, `*` for any one segment,
        /// `**` for the rest of the path.
        public var path: String
        /// Whether requests get a server span (they always get metrics). Scrape and health
        /// routes have none by default, as OpenTelemetry's HTTP instrumentations leave them out.
        public var traced: Bool = true
        /// The hooks around its requests.
        public var options: HTTPServerOptions = .init()
        /// Answers a request.
        public var handler: @Sendable (HTTPServerRequest) async -> HTTPServerResponse
    }

    /// The routes added so far.
    public private(set) var routes: [Route] = []
    /// The options of the routes added from now on, unless a route is given its own.
    public var options = HTTPServerOptions()
    let scrapeHandler: PrometheusScrapeHandler

    /// Creates an empty route list whose ``metrics(_:traced:)`` route renders `telemetry`'s registry.
    public init(telemetry: Telemetry) {
        self.scrapeHandler = telemetry.scrapeHandler
    }

    /// Serves `endpoint` at `method path`, decoding and encoding with `codec`.
    public mutating func add<Request, Response>(
        _ method: HTTPRequest.Method,
        _ path: String,
        _ endpoint: Endpoint<Request, Response>,
        codec: HTTPCodec<Request, Response>,
        options: HTTPServerOptions? = nil
    ) {
        let options = options ?? self.options
        self.routes.append(Route(method: method, path: path, options: options) { request in
            do {
                let decoded = try codec.decode(request)
                let response = try await endpoint(decoded)
                return try codec.encode(response)
            } catch {
                for handler in options.errorHandler { handler(error, request.head) }
                return codec.encodeError(error).withRetryAfter(of: error)
            }
        })
    }

    /// Serves `endpoint` at `POST path`, JSON in and out.
    public mutating func post<Request: Decodable, Response: Encodable>(
        _ path: String,
        _ endpoint: Endpoint<Request, Response>,
        codec: HTTPCodec<Request, Response> = .json,
        options: HTTPServerOptions? = nil
    ) {
        self.add(.post, path, endpoint, codec: codec, options: options)
    }

    /// Serves `endpoint` at `GET path`; the request is decoded from the head and path parameters.
    public mutating func get<Request, Response: Encodable>(
        _ path: String,
        _ endpoint: Endpoint<Request, Response>,
        options: HTTPServerOptions? = nil,
        decode: @escaping @Sendable (HTTPServerRequest) throws -> Request
    ) {
        self.add(.get, path, endpoint, codec: HTTPCodec(
            decode: decode,
            encode: { response in .json(.ok, try JSONBody.encode(response)) }
        ), options: options)
    }

    /// Serves the Prometheus exposition of the telemetry's registry at `GET path`, recorded in
    /// metrics but, unless `traced`, not in spans.
    public mutating func metrics(_ path: String = "/metrics", traced: Bool = false) {
        let scrape = self.scrapeHandler
        self.routes.append(Route(method: .get, path: path, traced: traced) { request in
            let rendered = scrape.respond(
                accept: request.head.headerFields.value(of: .accept),
                acceptEncoding: request.head.headerFields.value(of: .acceptEncoding)
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
        self.routes.append(Route(method: .get, path: "/livez", traced: traced) { _ in
            .json(.ok, ByteBuffer(string: #"{"status":"live"}"#))
        })
        self.routes.append(Route(method: .get, path: "/readyz", traced: traced) { _ in
            readiness.isReady
                ? .json(.ok, ByteBuffer(string: #"{"status":"ready"}"#))
                : .json(.serviceUnavailable, ByteBuffer(string: #"{"status":"not ready"}"#))
        })
    }

    /// The methods served at paths `path` matches, for a `405 Method Not Allowed`'s `Allow`.
    func methods(matching path: String) -> [HTTPRequest.Method] {
        var methods: [HTTPRequest.Method] = []
        for route in self.routes where HTTPRouteTemplate.matches(route.path, path: path) && !methods.contains(route.method) {
            methods.append(route.method)
        }
        return methods
    }
}
