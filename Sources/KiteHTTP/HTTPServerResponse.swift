import HTTPTypes
import Kite
import KiteTelemetry
import NIOCore

/// A response as the engine-independent part of the HTTP transport produces it: swift-http-types'
/// `HTTPResponse` and a body.
public struct HTTPServerResponse: Sendable {
    /// Status and header fields.
    public var head: HTTPResponse
    /// The body.
    public var body: ByteBuffer

    /// Creates a response.
    public init(head: HTTPResponse, body: ByteBuffer) {
        self.head = head
        self.body = body
    }

    /// A response with `status`, `Content-Type: application/json` and `body`.
    public static func json(_ status: HTTPResponse.Status, _ body: ByteBuffer) -> HTTPServerResponse {
        var fields = HTTPFields()
        fields.reserveCapacity(4)  // room for what the engine adds (Content-Length) without growing
        fields[.contentType] = "application/json"
        return HTTPServerResponse(head: HTTPResponse(status: status, headerFields: fields), body: body)
    }

    /// The JSON error body Kite answers bad requests and failures with:
    /// `{"error":"message","code":"INVALID_ARGUMENT"}` (without `code` when it is `nil`).
    public static func jsonError(_ status: HTTPResponse.Status, message: String, code: ErrorCode? = nil) -> HTTPServerResponse {
        .json(status, JSONCoding.errorBody(message: message, code: code))
    }
}
