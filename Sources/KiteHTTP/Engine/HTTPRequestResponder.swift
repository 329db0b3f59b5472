import HTTPTypes
import NIOCore

/// What every connection of the built-in engine shares: the route table, the instrumentation
/// and the body limit; answers one collected request.
struct HTTPRequestResponder: Sendable {
    let table: HTTPRouteTable
    let instrumentation: HTTPServerInstrumentation
    let maxBodySize: Int

    /// The answer to `request`, and the finalizers of its route.
    /// - Parameter body: The collected body, or `nil` when it was over ``maxBodySize``.
    func respond(to request: HTTPRequest, body: ByteBuffer?) async -> (HTTPServerResponse, HTTPRoutes.Route?) {
        let path = Substring(request.path ?? "/")
        switch self.table.match(request.method, path: path) {
        case .route(let route, let parameters):
            let limit = self.maxBodySize
            let response = await self.instrumentation.serve(
                request,
                route: route.path,
                traced: route.traced,
                options: route.options,
                collectBody: {
                    guard let body else { throw HTTPTransportError.payloadTooLarge(limit: limit) }
                    return body
                },
                handler: { head, body in
                    await route.handler(HTTPServerRequest(head: head, body: body, parameters: parameters))
                }
            )
            return (response, route)
        case .unmatched(let allowed):
            let response = await self.instrumentation.serveUnmatched(request, path: String(HTTPRouteTemplate.withoutQuery(path)), allowed: allowed)
            return (response, nil)
        }
    }
}
