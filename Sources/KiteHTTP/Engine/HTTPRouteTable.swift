import HTTPTypes

/// Kite's routes arranged for the built-in engine: literal paths found by one dictionary lookup,
/// templated ones (`:name`, `*`, `**`) tried in the order they were added.
struct HTTPRouteTable: Sendable {
    /// What a request's method and path select.
    enum Match {
        /// A route, with the values of its path parameters.
        case route(HTTPRoutes.Route, parameters: [String: String])
        /// No route serves this method at the path; `allowed` lists the methods that are served
        /// there (empty: none).
        case unmatched(allowed: [HTTPRequest.Method])
    }

    private let literal: [Substring: [HTTPRoutes.Route]]
    private let templated: [HTTPRoutes.Route]

    init(_ routes: HTTPRoutes) {
        var literal: [Substring: [HTTPRoutes.Route]] = [:]
        var templated: [HTTPRoutes.Route] = []
        for route in routes.routes {
            if HTTPRouteTemplate.isLiteral(route.path) {
                literal[HTTPRouteTemplate.normalized(Substring(route.path)), default: []].append(route)
            } else {
                templated.append(route)
            }
        }
        self.literal = literal
        self.templated = templated
    }

    /// The route for `method` at `path` (a request target: its query is ignored).
    func match(_ method: HTTPRequest.Method, path: Substring) -> Match {
        let normalized = HTTPRouteTemplate.normalized(path)
        var allowed: [HTTPRequest.Method] = []
        if let routes = self.literal[normalized] {
            for route in routes {
                if route.method == method { return .route(route, parameters: [:]) }
                if !allowed.contains(route.method) { allowed.append(route.method) }
            }
        }
        for route in self.templated {
            guard let parameters = HTTPRouteTemplate.parameters(route.path, path: normalized) else { continue }
            if route.method == method { return .route(route, parameters: parameters) }
            if !allowed.contains(route.method) { allowed.append(route.method) }
        }
        return .unmatched(allowed: allowed)
    }
}
