import Foundation
import HTTPTypes
import Kite
import NIOCore
import NIOFoundationCompat

/// Turns request bodies into requests, responses into bodies, and errors into responses.
public struct HTTPCodec<Request: Sendable, Response: Sendable>: Sendable {
    /// Decodes a request (head, body and path parameters); throw
    /// ``HTTPTransportError/malformedRequest(_:)`` (or anything else, answered by `encodeError`)
    /// when it cannot.
    public var decode: @Sendable (HTTPServerRequest) throws -> Request
    /// Encodes a successful response.
    public var encode: @Sendable (Response) throws -> HTTPServerResponse
    /// Answers an error the endpoint or the codec threw.
    public var encodeError: @Sendable (any Error) -> HTTPServerResponse

    /// Creates a codec.
    public init(
        decode: @escaping @Sendable (HTTPServerRequest) throws -> Request,
        encode: @escaping @Sendable (Response) throws -> HTTPServerResponse,
        encodeError: @escaping @Sendable (any Error) -> HTTPServerResponse = HTTPErrorEncoding.json
    ) {
        self.decode = decode
        self.encode = encode
        self.encodeError = encodeError
    }
}

extension HTTPCodec where Request: Decodable, Response: Encodable {
    /// JSON in, JSON out (``JSONBody``); errors as JSON.
    public static var json: HTTPCodec {
        HTTPCodec(
            decode: { request in try JSONBody.decode(Request.self, from: request.body) },
            encode: { response in .json(.ok, try JSONBody.encode(response)) }
        )
    }
}

extension HTTPCodec where Request == HTTPServerRequest, Response == HTTPServerResponse {
    /// The request as it came and the response as it goes: for endpoints that read raw bodies,
    /// headers or path parameters themselves.
    public static var raw: HTTPCodec {
        HTTPCodec(decode: { $0 }, encode: { $0 })
    }
}

/// JSON bodies with error messages a client can act on.
///
/// Kite's own coders (`JSONTokenDecoder`, `JSONTreeEncoder`): they read straight from the
/// body's bytes and write straight into a buffer, at a fraction of Foundation's per-call cost,
/// and behave as Foundation's `JSONDecoder`/`JSONEncoder` with default options — the same
/// `Codable` semantics and errors — except that `/` is written unescaped.
public enum JSONBody {
    /// Decodes `type` from `body`; failures become ``HTTPTransportError/malformedRequest(_:)``
    /// saying what was wrong (not JSON, a missing field, a field of the wrong type).
    public static func decode<Value: Decodable>(_ type: Value.Type, from body: ByteBuffer) throws -> Value {
        do {
            return try self.decodeOrThrow(type, from: body)
        } catch let error as DecodingError {
            throw HTTPTransportError.malformedRequest(JSONCoding.describe(error))
        }
    }

    /// Decodes `type` from `body`, throwing the `DecodingError` itself.
    static func decodeOrThrow<Value: Decodable>(_ type: Value.Type, from body: ByteBuffer) throws -> Value {
        try JSONCoding.decode(type, from: body)
    }

    /// Encodes `value` as JSON.
    public static func encode<Value: Encodable>(_ value: Value) throws -> ByteBuffer {
        try JSONCoding.encode(value)
    }
}

/// Error encoders.
public enum HTTPErrorEncoding {
    /// Kite's error model over HTTP: a ``ServiceError`` is answered with its
    /// ``ServiceError/httpStatus``, anything else with 500; the body is
    /// `{"error":"<description>","code":"<ErrorCode name>"}` (go-kit's `{"error":…}` plus the code,
    /// which lets a client tell apart errors that share a status).
    @Sendable
    public static func json(_ error: any Error) -> HTTPServerResponse {
        let code = CallOutcome.code(of: error)
        let status = (error as? any ServiceError)?.httpStatus ?? 500
        return .jsonError(HTTPResponse.Status(code: status), message: String(describing: error), code: code)
    }
}
