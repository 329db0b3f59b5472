import HTTPTypes
import KiteTelemetry
import NIOCore
import Tracing

/// The engine-independent heart of the HTTP server transport: continues the caller's trace,
/// runs one request in a server span, and records `http.server.request.duration`.
///
/// Engines (Hummingbird by default) hand it swift-http-types' `HTTPRequest`, a function that
/// collects the body, and the route's handler; it hands back an ``HTTPServerResponse``.
public struct HTTPServerInstrumentation: Sendable {
    let tracer: KiteTracer
    let durations: MetricFamily<Histogram>

    /// Creates the instrumentation for `telemetry`.
    public init(telemetry: Telemetry) {
        self.tracer = telemetry.tracer
        self.durations = telemetry.registry.histogram(
            "http_server_request_duration_seconds",
            help: "Duration of HTTP server requests (OpenTelemetry http.server.request.duration).",
            labelNames: ["http_request_method", "http_route", "http_response_status_code"]
        )
    }

    /// Serves one request.
    /// - Parameters:
    ///   - request: The request head.
    ///   - route: The matched route template (`/uppercase`), or `nil` when none matched.
    ///   - traced: Whether the request gets a server span (metrics are recorded either way).
    ///   - options: The route's hooks: `before` hooks see the head and the context (the caller's
    ///     trace context extracted already), `after` hooks the response's fields, error handlers
    ///     a body that could not be collected.
    ///   - collectBody: Collects the body; throws ``HTTPTransportError/payloadTooLarge(limit:)``
    ///     when it is too large.
    ///   - handler: Produces the response from the request and its body.
    public func serve(
        _ request: HTTPRequest,
        route: String?,
        traced: Bool = true,
        options: HTTPServerOptions = .init(),
        collectBody: () async throws -> ByteBuffer,
        handler: (HTTPRequest, ByteBuffer) async -> HTTPServerResponse
    ) async -> HTTPServerResponse {
        let start = ContinuousClock.now
        let method = request.method.rawValue
        var response: HTTPServerResponse
        /// The server span, which the duration's exemplar names.
        var serverSpan: KiteSpan?
        if traced {
            var context = ServiceContext.current ?? .topLevel
            self.tracer.extract(request.headerFields, into: &context, using: HTTPFieldsExtractor())
            for before in options.before { before(request, &context) }
            let span = self.tracer.startSpan(route.map { "\(method) \($0)" } ?? method, context: context, ofKind: .server)
            serverSpan = span
            if span.isRecording {
                span.setAttribute("http.request.method", method)
                if let route { span.setAttribute("http.route", route) }
                if let path = request.path { span.setAttribute("url.path", String(HTTPRouteTemplate.withoutQuery(Substring(path)))) }
                if let userAgent = request.headerFields.value(of: .userAgent) { span.setAttribute("user_agent.original", userAgent) }
            }
            response = await ServiceContext.$current.withValue(span.context) {
                await Self.respond(request, options: options, collectBody: collectBody, handler: handler)
            }
            let status = response.head.status.code
            if span.isRecording {
                span.setAttribute("http.response.status_code", status)
                if status >= 500 {
                    span.setAttribute("error.type", "\(status)")
                    span.setStatus(SpanStatus(code: .error))
                }
            }
            span.end()
        } else if options.before.isEmpty {
            response = await Self.respond(request, options: options, collectBody: collectBody, handler: handler)
        } else {
            var context = ServiceContext.current ?? .topLevel
            for before in options.before { before(request, &context) }
            response = await ServiceContext.$current.withValue(context) {
                await Self.respond(request, options: options, collectBody: collectBody, handler: handler)
            }
        }
        for after in options.after { after(request, &response.head.headerFields) }
        self.durations.labels(method, route ?? "", Self.statusLabel(response.head.status.code))
            .observe(start.duration(to: .now), for: serverSpan)
        return response
    }

    /// Answers a request no route matched, recorded with an empty route: 405 with `Allow` when
    /// `allowed` lists the methods the path is served for, 404 when it is empty.
    /// - Parameter path: The request's path, without the query.
    public func serveUnmatched(_ request: HTTPRequest, path: String, allowed: [HTTPRequest.Method]) async -> HTTPServerResponse {
        await self.serve(request, route: nil, collectBody: { ByteBuffer() }) { request, _ in
            guard !allowed.isEmpty else {
                return HTTPErrorEncoding.json(HTTPTransportError.notFound(method: request.method.rawValue, path: path))
            }
            var response = HTTPErrorEncoding.json(HTTPTransportError.methodNotAllowed(method: request.method.rawValue, path: path))
            response.head.headerFields[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
            return response
        }
    }

    private static func respond(
        _ request: HTTPRequest,
        options: HTTPServerOptions,
        collectBody: () async throws -> ByteBuffer,
        handler: (HTTPRequest, ByteBuffer) async -> HTTPServerResponse
    ) async -> HTTPServerResponse {
        let body: ByteBuffer
        do {
            body = try await collectBody()
        } catch {
            for handler in options.errorHandler { handler(error, request) }
            return HTTPErrorEncoding.json(error)
        }
        return await handler(request, body)
    }

    /// Status codes as label values without formatting an integer per request for the usual ones.
    static func statusLabel(_ code: Int) -> String {
        switch code {
        case 200: "200"
        case 400: "400"
        case 404: "404"
        case 413: "413"
        case 500: "500"
        default: String(code)
        }
    }
}
