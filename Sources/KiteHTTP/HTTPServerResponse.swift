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
    /// Writes `value` as a JSON string literal: quotes, backslashes and control characters
    /// escaped, everything else (including `/` and non-ASCII) as it is, in runs.
    mutating func writeJSONString(_ value: String) {
        var value = value
        self.writeInteger(UInt8(ascii: "\""))
        value.withUTF8 { bytes in
            var runStart = 0
            for index in bytes.indices {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                self.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[runStart..<index]))
                switch byte {
                case UInt8(ascii: "\""): self.writeStaticString(#"\""#)
                case UInt8(ascii: "\\"): self.writeStaticString(#"\\"#)
                case UInt8(ascii: "\n"): self.writeStaticString(#"\n"#)
                case UInt8(ascii: "\r"): self.writeStaticString(#"\r"#)
                case UInt8(ascii: "\t"): self.writeStaticString(#"\t"#)
                default:
                    self.writeStaticString(#"\u00"#)
                    self.writeInteger(Hex.digit(byte >> 4))
                    self.writeInteger(Hex.digit(byte & 0x0F))
                }
                runStart = index + 1
            }
            self.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[runStart...]))
        }
        self.writeInteger(UInt8(ascii: "\""))
    }
}
