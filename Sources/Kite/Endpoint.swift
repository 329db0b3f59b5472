/// One RPC method of a service: a request in, a response out, asynchronously and maybe throwing.
///
/// An endpoint is the unit that middleware wraps and transports serve. It is typed by its request
/// and response; the request context (trace context, baggage) is the task's `ServiceContext`,
/// not a parameter.
///
/// ```swift
/// let uppercase = Endpoint { (request: UppercaseRequest) in
///     UppercaseResponse(v: try await service.uppercase(request.s))
/// }
/// .instrumented("uppercase", telemetry)
/// ```
public struct Endpoint<Request: Sendable, Response: Sendable>: Sendable {
    /// The function the endpoint runs.
    public let call: @Sendable (Request) async throws -> Response

    /// Creates an endpoint from a function.
    public init(_ call: @escaping @Sendable (Request) async throws -> Response) {
        self.call = call
    }

    /// Calls the endpoint.
    @inlinable
    public func callAsFunction(_ request: Request) async throws -> Response {
        try await self.call(request)
    }

    /// The endpoint wrapped in `middlewares`; the first listed is the outermost (it sees the
    /// request first and the response last).
    public func with(_ middlewares: Middleware<Request, Response>...) -> Endpoint {
        self.with(middlewares)
    }

    /// The endpoint wrapped in `middlewares`; the first listed is the outermost.
    public func with(_ middlewares: [Middleware<Request, Response>]) -> Endpoint {
        middlewares.reversed().reduce(self) { endpoint, middleware in middleware.wrap(endpoint) }
    }
}
