import AsyncHTTPClient
import Foundation
import Kite
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// Turns requests into outgoing HTTP requests, and answers into responses or errors.
public struct HTTPClientCodec<Request: Sendable, Response: Sendable>: Sendable {
    /// Writes `request` into the outgoing request: its body, and headers such as `Content-Type`.
    public var encode: @Sendable (Request, inout HTTPClientRequest) throws -> Void
    /// Reads a 2xx answer.
    public var decode: @Sendable (HTTPClientResponse, ByteBuffer) throws -> Response
    /// Reads any other answer into the error the server meant. Default ``HTTPClientCodec/remoteError(_:body:)``.
    public var decodeError: @Sendable (HTTPClientResponse, ByteBuffer) -> RemoteError

    /// Creates a codec.
    public init(
        encode: @escaping @Sendable (Request, inout HTTPClientRequest) throws -> Void,
        decode: @escaping @Sendable (HTTPClientResponse, ByteBuffer) throws -> Response,
        decodeError: @escaping @Sendable (HTTPClientResponse, ByteBuffer) -> RemoteError = HTTPClientCodec.remoteError
    ) {
        self.encode = encode
        self.decode = decode
        self.decodeError = decodeError
    }

    /// Kite's error body read back: the `code` and `error` fields of `{"error":"…","code":"…"}`
    /// when the body has them; otherwise the code the status maps to and the body (or the
    /// status's reason) as the message.
    @Sendable
    public static func remoteError(_ response: HTTPClientResponse, body: ByteBuffer) -> RemoteError {
        let status = Int(response.status.code)
        if let error = try? JSONBody.decodeOrThrow(ErrorBody.self, from: body) {
            let code = error.code.flatMap(ErrorCode.init(name:)) ?? ErrorCode(httpStatus: status)
            return RemoteError(code: code, httpStatus: status, message: error.error)
        }
        let text = String(decoding: body.readableBytesView.prefix(512), as: UTF8.self)
        return RemoteError(
            code: ErrorCode(httpStatus: status),
            httpStatus: status,
            message: text.isEmpty ? response.status.reasonPhrase : text
        )
    }

    private struct ErrorBody: Decodable {
        var error: String
        var code: String?
    }
}

extension HTTPClientCodec where Request: Encodable, Response: Decodable {
    /// JSON out, JSON in (``JSONBody``'s coders); errors read from Kite's error body.
    public static var json: HTTPClientCodec {
        HTTPClientCodec(
            encode: { request, outgoing in
                outgoing.headers.replaceOrAdd(name: "Content-Type", value: "application/json")
                outgoing.body = .bytes(try JSONBody.encode(request))
            },
            decode: { _, body in
                do {
                    return try JSONBody.decodeOrThrow(Response.self, from: body)
                } catch let error as DecodingError {
                    throw HTTPClientCallError.malformedResponse(JSONCoding.describe(error))
                }
            }
        )
    }
}

/// What went wrong on a client's side of a call (the server's own errors arrive as
/// ``RemoteError``s).
public enum HTTPClientCallError: ServiceError, Hashable, CustomStringConvertible {
    /// A 2xx answer whose body could not be decoded.
    case malformedResponse(String)
    /// The answer's body is larger than the client accepts.
    case responseTooLarge(limit: Int)

    public var code: ErrorCode {
        switch self {
        case .malformedResponse: .internal
        case .responseTooLarge: .resourceExhausted
        }
    }

    public var description: String {
        switch self {
        case .malformedResponse(let reason): "malformed response: \(reason)"
        case .responseTooLarge(let limit): "response body is larger than \(limit) bytes"
        }
    }
}
