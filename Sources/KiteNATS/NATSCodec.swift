import Kite
import NIOCore

/// Turns request messages into requests and responses into reply payloads, for a responder.
public struct NATSCodec<Request: Sendable, Response: Sendable>: Sendable {
    /// Decodes a request; throw ``NATSError/malformedRequest(_:)`` (answered `INVALID_ARGUMENT`)
    /// when it cannot.
    public var decode: @Sendable (NATSMessage) throws -> Request
    /// Encodes a response as the reply's payload.
    public var encode: @Sendable (Response) throws -> ByteBuffer

    /// Creates a codec.
    public init(
        decode: @escaping @Sendable (NATSMessage) throws -> Request,
        encode: @escaping @Sendable (Response) throws -> ByteBuffer
    ) {
        self.decode = decode
        self.encode = encode
    }
}

extension NATSCodec where Request: Decodable, Response: Encodable {
    /// JSON in, JSON out: the same bodies as the HTTP transport's. A payload that does not
    /// decode is answered `INVALID_ARGUMENT`, saying what was wrong.
    public static var json: NATSCodec {
        NATSCodec(
            decode: { message in
                do {
                    return try JSONCoding.decode(Request.self, from: message.payload)
                } catch let error as DecodingError {
                    throw NATSError.malformedRequest(JSONCoding.describe(error))
                }
            },
            encode: { response in try JSONCoding.encode(response) }
        )
    }
}

/// Turns requests into payloads and replies into responses, for a requester.
public struct NATSClientCodec<Request: Sendable, Response: Sendable>: Sendable {
    /// Encodes a request as the message's payload.
    public var encode: @Sendable (Request) throws -> ByteBuffer
    /// Decodes a reply that is not an error.
    public var decode: @Sendable (NATSMessage) throws -> Response

    /// Creates a codec.
    public init(
        encode: @escaping @Sendable (Request) throws -> ByteBuffer,
        decode: @escaping @Sendable (NATSMessage) throws -> Response
    ) {
        self.encode = encode
        self.decode = decode
    }
}

extension NATSClientCodec where Request: Encodable, Response: Decodable {
    /// JSON out, JSON in. A reply that does not decode fails the call with
    /// ``NATSError/malformedReply(_:)`` saying what was wrong.
    public static var json: NATSClientCodec {
        NATSClientCodec(
            encode: { request in try JSONCoding.encode(request) },
            decode: { reply in
                do {
                    return try JSONCoding.decode(Response.self, from: reply.payload)
                } catch let error as DecodingError {
                    throw NATSError.malformedReply(JSONCoding.describe(error))
                }
            }
        )
    }
}
