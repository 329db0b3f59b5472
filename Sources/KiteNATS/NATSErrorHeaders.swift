import Kite
import NIOCore

/// How an error crosses NATS under Kite's error model, in both directions.
///
/// A responder answers an error with the headers of the NATS services API —
/// `Nats-Service-Error: <description>` and `Nats-Service-Error-Code: <HTTP-style status>` — plus
/// `Kite-Error-Code: <code name>` (the exact code) and `Retry-After: <seconds>` when the error
/// says when to try again; the payload is Kite's JSON error body,
/// `{"error":"<description>","code":"<code name>"}`. A requester reads them back into a
/// ``RemoteError``: from `Kite-Error-Code`, else from the NATS service code (a NATS micro service
/// that is not Kite's), which the caller's decoder may turn into the service's own error.
public enum NATSErrorHeaders {
    /// `Nats-Service-Error`: the error's description.
    public static let description = "Nats-Service-Error"
    /// `Nats-Service-Error-Code`: the HTTP-style status.
    public static let statusCode = "Nats-Service-Error-Code"
    /// `Kite-Error-Code`: the ``ErrorCode`` name.
    public static let code = "Kite-Error-Code"
    /// `Retry-After`: whole seconds, rounded up.
    public static let retryAfter = "Retry-After"

    /// The headers and payload that answer `error`.
    public static func answer(_ error: any Error) -> (NATSHeaders, ByteBuffer) {
        let code = CallOutcome.code(of: error)
        let status = (error as? any ServiceError)?.httpStatus ?? 500
        let message = String(describing: error).filter { $0 != "\r" && $0 != "\n" }
        var headers = NATSHeaders()
        headers[Self.description] = message
        headers[Self.statusCode] = String(status)
        headers[Self.code] = code.name
        if let retryAfter = (error as? any ServiceError)?.retryAfter {
            let (seconds, attoseconds) = retryAfter.components
            headers[Self.retryAfter] = String(max(0, seconds + (attoseconds > 0 ? 1 : 0)))
        }
        return (headers, JSONCoding.errorBody(message: message, code: code))
    }

    /// The error a reply carries, or `nil` when it is not an error.
    public static func remoteError(in reply: NATSMessage) -> RemoteError? {
        guard let headers = reply.headers else { return nil }
        let status = headers[Self.statusCode].flatMap { Int($0) }
        let code = headers[Self.code].flatMap(ErrorCode.init(name:)) ?? status.map(ErrorCode.init(httpStatus:))
        guard let code else { return nil }
        let message = headers[Self.description] ?? code.name
        let retryAfter = headers[Self.retryAfter].flatMap { Int($0) }.map { Duration.seconds($0) }
        return RemoteError(code: code, httpStatus: status, message: message, retryAfter: retryAfter)
    }
}
