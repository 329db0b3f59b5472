import NIOCore

/// Kite's JSON coders for the transports' codecs (`JSONTokenDecoder`, `JSONTreeEncoder`): they
/// read straight from a buffer's bytes and write straight into a buffer, and behave as
/// Foundation's `JSONDecoder`/`JSONEncoder` with default options — the same `Codable` semantics
/// and `DecodingError`s — except that `/` is written unescaped.
package enum JSONCoding {
    /// Decodes `type` from the readable bytes of `buffer`, throwing the `DecodingError` itself.
    package static func decode<Value: Decodable>(_ type: Value.Type, from buffer: ByteBuffer) throws -> Value {
        try buffer.withUnsafeReadableBytes { try JSONTokenDecoder.decode(type, from: $0) }
    }

    /// Encodes `value` as JSON.
    package static func encode<Value: Encodable>(_ value: Value) throws -> ByteBuffer {
        try JSONTreeEncoder.encode(value)
    }

    /// Kite's JSON error body, `{"error":"message","code":"INVALID_ARGUMENT"}` (without `code`
    /// when it is `nil`): go-kit's `{"error":…}` plus the code.
    package static func errorBody(message: String, code: ErrorCode?) -> ByteBuffer {
        var body = ByteBuffer()
        body.writeStaticString(#"{"error":"#)
        body.writeJSONString(message)
        if let code {
            body.writeStaticString(#","code":""#)
            body.writeString(code.name)
            body.writeStaticString(#"""#)
        }
        body.writeStaticString("}")
        return body
    }

    /// A sentence saying what was wrong with a body that did not decode: not JSON, a missing
    /// field, a field of the wrong type.
    package static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.isEmpty ? "body" : "field '" + codingPath.map(\.stringValue).joined(separator: ".") + "'"
        }
        switch error {
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            return "body is not valid JSON"
        case .dataCorrupted(let context):
            return "\(path(context.codingPath)) is invalid"
        case .keyNotFound(let key, let context):
            return "missing \(path(context.codingPath + [key]))"
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)) is not of type \(type)"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)) is null, expected \(type)"
        @unknown default:
            return "body could not be decoded"
        }
    }
}
