import HTTPTypes

/// Errors of the HTTP transport itself, each answered with its own status and a JSON error body.
public enum HTTPTransportError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The body could not be decoded (malformed JSON, missing or mistyped fields): 400.
    case malformedRequest(String)
    /// The body is larger than the server accepts: 413.
    case payloadTooLarge(limit: Int)
    /// No route matches the method and path: 404.
    case notFound(method: String, path: String)

    /// The status this error is answered with.
    public var status: HTTPResponse.Status {
        switch self {
        case .malformedRequest: .badRequest
        case .payloadTooLarge: .contentTooLarge
        case .notFound: .notFound
        }
    }

    public var description: String {
        switch self {
        case .malformedRequest(let reason): "malformed request: \(reason)"
        case .payloadTooLarge(let limit): "request body is larger than \(limit) bytes"
        case .notFound(let method, let path): "no route for \(method) \(path)"
        }
    }
}

/// An error that says which HTTP status it should be answered with. Conform a service's error
/// type to it in the transport layer (an extension next to the routes), not in the service.
public protocol HTTPStatusError: Error {
    /// The response status.
    var httpStatus: HTTPResponse.Status { get }
}
