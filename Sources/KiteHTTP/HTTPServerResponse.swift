import HTTPTypes
import Kite
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
        fields[.contentType] = "application/json"
        return HTTPServerResponse(head: HTTPResponse(status: status, headerFields: fields), body: body)
    }

    /// The JSON error body Kite answers bad requests and failures with:
    /// `{"error":"message","code":"INVALID_ARGUMENT"}` (without `code` when it is `nil`).
    public static func jsonError(_ status: HTTPResponse.Status, message: String, code: ErrorCode? = nil) -> HTTPServerResponse {
        var body = ByteBuffer()
        body.writeString(#"{"error":"#)
        body.writeJSONString(message)
        if let code {
            body.writeString(#","code":""#)
            body.writeString(code.name)
            body.writeString(#"""#)
        }
        body.writeString("}")
        return .json(status, body)
    }
}

extension ByteBuffer {
    /// Writes `value` as a JSON string literal.
    mutating func writeJSONString(_ value: String) {
        self.writeInteger(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): self.writeString(#"\""#)
            case UInt8(ascii: "\\"): self.writeString(#"\\"#)
            case UInt8(ascii: "\n"): self.writeString(#"\n"#)
            case UInt8(ascii: "\r"): self.writeString(#"\r"#)
            case UInt8(ascii: "\t"): self.writeString(#"\t"#)
            case 0..<0x20:
                let digits = Array("0123456789abcdef".utf8)
                self.writeString(#"\u00"#)
                self.writeInteger(digits[Int(byte >> 4)])
                self.writeInteger(digits[Int(byte & 0x0F)])
            default: self.writeInteger(byte)
            }
        }
        self.writeInteger(UInt8(ascii: "\""))
    }
}
