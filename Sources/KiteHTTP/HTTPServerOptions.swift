import HTTPTypes
import Tracing

/// Hooks around the requests of a route — go-kit's HTTP server options, in Swift form.
///
/// ```swift
/// var options = HTTPServerOptions()
/// options.before.append { request, context in          // a tenant header into baggage
///     if let tenant = request.headerFields[HTTPField.Name("X-Tenant")!] { context.tenant = tenant }
/// }
/// options.finalizer.append { call in accessLog.info("\(call.method) \(call.path) \(call.status)") }
/// ```
public struct HTTPServerOptions: Sendable {
    /// Run before the request is decoded, with its head; may enrich the request's
    /// `ServiceContext` (the caller's trace context is in it already; the server span starts
    /// from what the hooks leave, so baggage they add travels on).
    public var before: [@Sendable (HTTPRequest, inout ServiceContext) -> Void]
    /// Run on every response before it is written, errors included; may set header fields.
    public var after: [@Sendable (HTTPRequest, inout HTTPFields) -> Void]
    /// Told of every error a request ended in (a malformed body, the endpoint's error), without
    /// changing the response: where errors are logged or counted.
    public var errorHandler: [@Sendable (any Error, HTTPRequest) -> Void]
    /// Run once the response has been written: where an access log goes.
    public var finalizer: [@Sendable (HTTPServerCallSummary) -> Void]

    /// Creates options.
    public init(
        before: [@Sendable (HTTPRequest, inout ServiceContext) -> Void] = [],
        after: [@Sendable (HTTPRequest, inout HTTPFields) -> Void] = [],
        errorHandler: [@Sendable (any Error, HTTPRequest) -> Void] = [],
        finalizer: [@Sendable (HTTPServerCallSummary) -> Void] = []
    ) {
        self.before = before
        self.after = after
        self.errorHandler = errorHandler
        self.finalizer = finalizer
    }
}

/// One request answered, as finalizers see it.
public struct HTTPServerCallSummary: Sendable {
    /// The method.
    public var method: String
    /// The path, without the query.
    public var path: String
    /// The route template that matched (`/users/:id`), or `nil`.
    public var route: String?
    /// The response status.
    public var status: Int
    /// From the request's arrival to the response's last byte handed to the connection.
    public var duration: Duration
    /// The bytes of the request body read.
    public var requestBodySize: Int
    /// The bytes of the response body written.
    public var responseBodySize: Int
}
