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
        // The most common head shared, not built: a response's head and fields are copied on write.
        // (Statuses compare by code alone: a 200 with a phrase of its own gets a head of its own.)
        let isPlainOK = status == .ok && status.reasonPhrase == HTTPResponse.Status.ok.reasonPhrase
        let head = isPlainOK ? Self.okJSON : HTTPResponse(status: status, headerFields: Self.jsonFields)
        return HTTPServerResponse(head: head, body: body)
    }

    private static let jsonFields: HTTPFields = [.contentType: "application/json"]
    private static let okJSON = HTTPResponse(status: .ok, headerFields: Self.jsonFields)

    /// The JSON error body Kite answers bad requests and failures with:
    /// `{"error":"message","code":"INVALID_ARGUMENT"}` (without `code` when it is `nil`).
    public static func jsonError(_ status: HTTPResponse.Status, message: String, code: ErrorCode? = nil) -> HTTPServerResponse {
        .json(status, JSONCoding.errorBody(message: message, code: code))
    }
}
