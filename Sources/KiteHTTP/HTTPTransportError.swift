import HTTPTypes
import Kite

/// Errors of the HTTP transport itself, each answered with its own status and a JSON error body.
///
/// They are ``ServiceError``s: a malformed request is `INVALID_ARGUMENT`, a body too large
/// `OUT_OF_RANGE` (answered 413), an unknown route `NOT_FOUND`, a method the path does not accept
/// `UNIMPLEMENTED` (answered 405) — all the caller's to fix.
public enum HTTPTransportError: ServiceError, Hashable, CustomStringConvertible {
    /// The body could not be decoded (malformed JSON, missing or mistyped fields): 400.
    case malformedRequest(String)
    /// The body is larger than the server accepts: 413.
    case payloadTooLarge(limit: Int)
    /// No route matches the method and path: 404.
    case notFound(method: String, path: String)
    /// The path is served, but not for this method: 405 (with `Allow`).
    case methodNotAllowed(method: String, path: String)

    public var code: ErrorCode {
        switch self {
        case .malformedRequest: .invalidArgument
        case .payloadTooLarge: .outOfRange
        case .notFound: .notFound
        case .methodNotAllowed: .unimplemented
        }
    }

    /// Every transport error is the caller's to fix.
    public var isBusinessError: Bool { true }

    public var httpStatus: Int {
        switch self {
        case .malformedRequest: 400
        case .payloadTooLarge: 413
        case .notFound: 404
        case .methodNotAllowed: 405
        }
    }

    /// The status this error is answered with.
    public var status: HTTPResponse.Status { HTTPResponse.Status(code: self.httpStatus) }

    public var description: String {
        switch self {
        case .malformedRequest(let reason): "malformed request: \(reason)"
        case .payloadTooLarge(let limit): "request body is larger than \(limit) bytes"
        case .notFound(let method, let path): "no route for \(method) \(path)"
        case .methodNotAllowed(let method, let path): "\(path) does not accept \(method)"
        }
    }
}

