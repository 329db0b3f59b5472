import HTTPTypes
import Hummingbird
import KiteTelemetry
import NIOCore

extension Router {
    /// Mounts Kite routes on an existing Hummingbird router, each served through
    /// ``HTTPServerInstrumentation`` (trace continuation, server span, `http.server.request.duration`)
    /// with its ``HTTPServerOptions``.
    ///
    /// Also adds a middleware that answers requests no route matches: a JSON 405 with `Allow`
    /// when the path is served for other methods, a JSON 404 otherwise — both recorded (with an
    /// empty `http_route`).
    /// - Parameters:
    ///   - routes: The routes.
    ///   - telemetry: The pipeline.
    ///   - maxBodySize: The largest request body accepted; larger ones get 413.
    public func addKiteRoutes(_ routes: HTTPRoutes, telemetry: Telemetry, maxBodySize: Int = 1 << 20) {
        let instrumentation = HTTPServerInstrumentation(telemetry: telemetry)
        self.add(middleware: UnmatchedRouteMiddleware<Context>(instrumentation: instrumentation, routes: routes))
        for route in routes.routes {
            self.on(RouterPath(route.path), method: route.method) { request, context in
                let start = ContinuousClock.now
                var parameters: [String: String] = [:]
                for (name, value) in context.parameters { parameters[String(name)] = String(value) }
                let requestBodySize = RequestBodySize()
                let response = await instrumentation.serve(
                    request.head,
                    route: route.path,
                    traced: route.traced,
                    options: route.options,
                    collectBody: {
                        let body = try await Self.collect(request.body, limit: maxBodySize)
                        requestBodySize.value = body.readableBytes
                        return body
                    },
                    handler: { head, body in
                        await route.handler(HTTPServerRequest(head: head, body: body, parameters: parameters))
                    }
                )
                return Self.response(response, finalizers: route.options.finalizer) { status, written in
                    HTTPServerCallSummary(
                        method: request.method.rawValue,
                        path: request.uri.path,
                        route: route.path,
                        status: status,
                        duration: start.duration(to: .now),
                        requestBodySize: requestBodySize.value,
                        responseBodySize: written
                    )
                }
            }
        }
    }

    /// Hummingbird's response for `response`; finalizers run once its body has been written.
    static func response(
        _ response: HTTPServerResponse,
        finalizers: [@Sendable (HTTPServerCallSummary) -> Void],
        summary: @escaping @Sendable (_ status: Int, _ written: Int) -> HTTPServerCallSummary
    ) -> Response {
        let body = response.body
        guard !finalizers.isEmpty else {
            return Response(status: response.head.status, headers: response.head.headerFields, body: ResponseBody(byteBuffer: body))
        }
        let status = response.head.status.code
        return Response(
            status: response.head.status,
            headers: response.head.headerFields,
            body: ResponseBody(contentLength: body.readableBytes) { writer in
                try await writer.write(body)
                try await writer.finish(nil)
                let call = summary(status, body.readableBytes)
                for finalizer in finalizers { finalizer(call) }
            }
        )
    }

    private static func collect(_ body: RequestBody, limit: Int) async throws -> ByteBuffer {
        do {
            return try await body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw HTTPTransportError.payloadTooLarge(limit: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw HTTPTransportError.payloadTooLarge(limit: limit)
        }
    }
}

/// The size of the request body one request read (for its finalizers).
private final class RequestBodySize: @unchecked Sendable {
    // Written by the body collection and read after it, in the same request's task.
    var value = 0
}

/// Answers requests that matched no route, through the instrumentation: 405 with `Allow` when
/// the path is served for other methods, 404 otherwise.
struct UnmatchedRouteMiddleware<Context: RequestContext>: RouterMiddleware {
    let instrumentation: HTTPServerInstrumentation
    let routes: HTTPRoutes

    /// Whether the router matched a route: it records the route's path, or `NotFound` (Hummingbird's
    /// marker, never a route since routes start with `/`) when none matched.
    static func matchedRoute(_ context: Context) -> Bool {
        guard let path = context.endpointPath else { return false }
        return path != "NotFound"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound && !Self.matchedRoute(context) {
            let path = request.uri.path
            let allowed = self.routes.methods(matching: path)
            let response = await self.instrumentation.serveUnmatched(request.head, path: path, allowed: allowed)
            return Response(
                status: response.head.status,
                headers: response.head.headerFields,
                body: ResponseBody(byteBuffer: response.body)
            )
        }
    }
}
