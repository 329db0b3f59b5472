/// A function from endpoint to endpoint: what adds behaviour (instrumentation, timeouts, circuit
/// breaking, retries) around an endpoint without the endpoint knowing.
///
/// Compose them with ``Endpoint/with(_:)-(Middleware<Request,Response>...)``; the first listed is the outermost.
public struct Middleware<Request: Sendable, Response: Sendable>: Sendable {
    /// Wraps an endpoint.
    public let wrap: @Sendable (Endpoint<Request, Response>) -> Endpoint<Request, Response>

    /// Creates a middleware from a wrapping function.
    public init(_ wrap: @escaping @Sendable (Endpoint<Request, Response>) -> Endpoint<Request, Response>) {
        self.wrap = wrap
    }

    /// A middleware that runs `around` with the request and the next endpoint.
    public static func intercept(
        _ around: @escaping @Sendable (Request, Endpoint<Request, Response>) async throws -> Response
    ) -> Middleware {
        Middleware { next in Endpoint { request in try await around(request, next) } }
    }
}
