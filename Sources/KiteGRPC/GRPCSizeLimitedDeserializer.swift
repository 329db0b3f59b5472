import GRPCCore
import GRPCProtobuf
import SwiftProtobuf

/// Deserializes protobuf messages no larger than a limit; a larger one is refused with
/// `RESOURCE_EXHAUSTED` naming both sizes, as grpc-go answers — where the transport's own limit
/// would only reset the stream and leave the caller a bare `CANCELLED`.
struct GRPCSizeLimitedDeserializer<Message: SwiftProtobuf.Message>: MessageDeserializer {
    let limit: Int

    func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> Message {
        guard serializedMessageBytes.count <= self.limit else {
            throw RPCError(
                code: .resourceExhausted,
                message: "request message of \(serializedMessageBytes.count) bytes is larger than the limit of \(self.limit) bytes"
            )
        }
        return try ProtobufDeserializer<Message>().deserialize(serializedMessageBytes)
    }
}
