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
    /// JSON in, JSON out (Foundation's `JSONDecoder`/`JSONEncoder`); errors as JSON.
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
public enum JSONBody {
    // One coder each for every request: they hold only their (default) options, and decoding
    // and encoding are safe from any number of threads at once.
    private static let decoder = JSONDecoder()
    private static let encoder = JSONEncoder()

    /// Decodes `type` from `body`; failures become ``HTTPTransportError/malformedRequest(_:)``
    /// saying what was wrong (not JSON, a missing field, a field of the wrong type).
    public static func decode<Value: Decodable>(_ type: Value.Type, from body: ByteBuffer) throws -> Value {
        do {
            // The body's bytes, read in place rather than copied into a `Data` first.
            return try body.withUnsafeReadableBytes { bytes in
                guard let base = bytes.baseAddress, bytes.count > 0 else {
                    return try Self.decoder.decode(type, from: Data())
                }
                let data = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: bytes.count, deallocator: .none)
                return try Self.decoder.decode(type, from: data)
            }
        } catch let error as DecodingError {
            throw HTTPTransportError.malformedRequest(Self.describe(error))
        }
    }

    /// Encodes `value` as JSON.
    public static func encode<Value: Encodable>(_ value: Value) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        try Self.encoder.encode(value, into: &buffer)
        return buffer
    }

    static func describe(_ error: DecodingError) -> String {
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
