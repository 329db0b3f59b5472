/// An error that says how it crosses the wire and what kind of error it is — Kite's error model.
///
/// Conform a service's error type to it (in the service, or in an extension beside the
/// transports) and every transport answers it the same way: the HTTP transport with
/// ``httpStatus`` and `{"error":"<description>","code":"<code>"}`, the gRPC transport with
/// ``code`` as the status and the description as its message. Client endpoints turn the answer
/// back into an error the caller can `catch` (see ``RemoteError``).
///
/// ```swift
/// enum AddError: ServiceError, CaseIterable, CustomStringConvertible {
///     case overflow
///     var code: ErrorCode { .outOfRange }         // a business error: 400, OUT_OF_RANGE
///     var description: String { "integer overflow" }
/// }
/// ```
///
/// Telemetry reads ``isBusinessError``: a business error is an answer — the caller's fault or an
/// expected outcome — and counts as `outcome="business_error"`, leaves the span's status unset
/// and does not trip a circuit breaker; anything else is a failure (see ``CallOutcome``).
public protocol ServiceError: Error, Sendable {
    /// The canonical code. Default ``ErrorCode/unknown``.
    var code: ErrorCode { get }
    /// The HTTP status to answer with. Default the code's ``ErrorCode/httpStatus``.
    var httpStatus: Int { get }
    /// Whether this is a business error rather than a failure. Default the code's
    /// ``ErrorCode/isBusinessByDefault``.
    var isBusinessError: Bool { get }
    /// When the caller may try again, if the service knows (a rate limit's next token, an open
    /// breaker's cool-down). The HTTP transport sends it as `Retry-After`, the gRPC transport as
    /// `grpc-retry-pushback-ms`; a ``RetryPolicy`` waits at least this long. Default `nil`.
    var retryAfter: Duration? { get }
}

extension ServiceError {
    public var code: ErrorCode { .unknown }
    public var httpStatus: Int { self.code.httpStatus }
    public var isBusinessError: Bool { self.code.isBusinessByDefault }
    public var retryAfter: Duration? { nil }
}
