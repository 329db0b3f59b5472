import HTTPTypes
import Hummingbird
import KiteTelemetry
import NIOCore

extension Router {
    /// Mounts Kite routes on an existing Hummingbird router, each served through
    /// ``HTTPServerInstrumentation`` (trace continuation, server span, `http.server.request.duration`).
    ///
    /// Also adds a middleware that answers requests no route matches with a JSON 404 and records
    /// them (with an empty `http_route`).
    /// - Parameters:
    ///   - routes: The routes.
    ///   - telemetry: The pipeline.
    ///   - maxBodySize: The largest request body accepted; larger ones get 413.
    public func addKiteRoutes(_ routes: HTTPRoutes, telemetry: Telemetry, maxBodySize: Int = 1 << 20) {
        let instrumentation = HTTPServerInstrumentation(telemetry: telemetry)
        self.add(middleware: UnmatchedRouteMiddleware<Context>(instrumentation: instrumentation))
        for route in routes.routes {
            let path = route.path
            let traced = route.traced
            let handler = route.handler
            self.on(RouterPath(path), method: route.method) { request, _ in
                let response = await instrumentation.serve(
                    request.head,
                    route: path,
                    traced: traced,
                    collectBody: { try await Self.collect(request.body, limit: maxBodySize) },
                    handler: handler
                )
                return Response(
                    status: response.head.status,
                    headers: response.head.headerFields,
                    body: ResponseBody(byteBuffer: response.body)
                )
            }
        }
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

/// Answers requests that matched no route with a JSON 404, through the instrumentation.
struct UnmatchedRouteMiddleware<Context: RequestContext>: RouterMiddleware {
    let instrumentation: HTTPServerInstrumentation

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
            let response = await self.instrumentation.serve(
                request.head,
                route: nil,
                collectBody: { ByteBuffer() },
                handler: { request, _ in
                    HTTPErrorEncoding.json(HTTPTransportError.notFound(method: request.method.rawValue, path: path))
                }
            )
            return Response(
                status: response.head.status,
                headers: response.head.headerFields,
                body: ResponseBody(byteBuffer: response.body)
            )
        }
    }
}
