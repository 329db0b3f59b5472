import Kite
import KiteGRPC
import KiteTelemetry
import SwiftProtobuf

extension GRPCEndpointServer {
    /// addsvc over gRPC: go-kit's `pb.Add` (`addsvc.proto`, unchanged) and Kite's streaming
    /// `kite.addsvc.AddStream` (`addstream.proto`), plus the standard health service.
    public static func addService(
        _ endpoints: AddEndpoints,
        streaming: AddStreamEndpoints,
        configuration: GRPCEndpointServer.Configuration,
        telemetry: Telemetry,
        readiness: Readiness = Readiness(),
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> GRPCEndpointServer {
        GRPCEndpointServer(configuration: configuration, telemetry: telemetry, readiness: readiness, onListening: onListening) { routes in
            routes.unary(
                Pb_Add.Method.Sum.descriptor,
                endpoints.sum,
                decode: { (message: Pb_SumRequest) in SumRequest(a: Int(message.a), b: Int(message.b)) },
                encode: { response in Pb_SumReply.with { $0.v = Int64(response.v) } }
            )
            routes.unary(
                Pb_Add.Method.Concat.descriptor,
                endpoints.concat,
                decode: { (message: Pb_ConcatRequest) in ConcatRequest(a: message.a, b: message.b) },
                encode: { response in Pb_ConcatReply.with { $0.v = response.v } }
            )
            routes.serverStreaming(
                Kite_Addsvc_AddStream.Method.RunningSum.descriptor,
                streaming.runningSum,
                decode: { (message: Kite_Addsvc_RangeRequest) in
                    guard message.from <= message.to else { throw AddStreamError.emptyRange }
                    return Int(message.from)...Int(message.to)
                },
                encode: { response in Pb_SumReply.with { $0.v = Int64(response.v) } }
            )
            routes.clientStreaming(
                Kite_Addsvc_AddStream.Method.SumAll.descriptor,
                streaming.sumAll,
                decode: { (message: Kite_Addsvc_Number) in Int(message.value) },
                encode: { response in Pb_SumReply.with { $0.v = Int64(response.v) } }
            )
            routes.bidirectionalStreaming(
                Kite_Addsvc_AddStream.Method.SumEach.descriptor,
                streaming.sumEach,
                decode: { (message: Pb_SumRequest) in SumRequest(a: Int(message.a), b: Int(message.b)) },
                encode: { response in Pb_SumReply.with { $0.v = Int64(response.v) } }
            )
        }
    }
}

/// A range whose start is past its end.
public enum AddStreamError: ServiceError, CaseIterable, CustomStringConvertible {
    case emptyRange

    public var code: ErrorCode { .invalidArgument }
    public var description: String { "from is greater than to" }
}

extension AddEndpoints {
    /// The endpoints of an addsvc served over gRPC through `connection`: the service's errors
    /// come back as ``AddServiceError``s.
    public static func grpc(_ connection: GRPCConnection) -> AddEndpoints {
        let options = GRPCClientOptions(decodeError: RemoteError.matching(AddServiceError.self))
        return AddEndpoints(
            sum: connection.unary(
                Pb_Add.Method.Sum.descriptor,
                encode: { (request: SumRequest) in Pb_SumRequest.with { $0.a = Int64(request.a); $0.b = Int64(request.b) } },
                decode: { (reply: Pb_SumReply) in SumResponse(v: Int(reply.v)) },
                options: options
            ),
            concat: connection.unary(
                Pb_Add.Method.Concat.descriptor,
                encode: { (request: ConcatRequest) in Pb_ConcatRequest.with { $0.a = request.a; $0.b = request.b } },
                decode: { (reply: Pb_ConcatReply) in ConcatResponse(v: reply.v) },
                options: options
            )
        )
    }
}

extension AddStreamEndpoints {
    /// The streaming endpoints of an addsvc served over gRPC through `connection`.
    public static func grpc(_ connection: GRPCConnection) -> AddStreamEndpoints {
        let options = GRPCClientOptions(decodeError: RemoteError.matching(AddServiceError.self))
        return AddStreamEndpoints(
            runningSum: connection.serverStreaming(
                Kite_Addsvc_AddStream.Method.RunningSum.descriptor,
                encode: { (range: ClosedRange<Int>) in
                    Kite_Addsvc_RangeRequest.with { $0.from = Int64(range.lowerBound); $0.to = Int64(range.upperBound) }
                },
                decode: { (reply: Pb_SumReply) in SumResponse(v: Int(reply.v)) },
                options: options
            ),
            sumAll: connection.clientStreaming(
                Kite_Addsvc_AddStream.Method.SumAll.descriptor,
                encode: { (number: Int) in Kite_Addsvc_Number.with { $0.value = Int64(number) } },
                decode: { (reply: Pb_SumReply) in SumResponse(v: Int(reply.v)) },
                options: options
            ),
            sumEach: connection.bidirectionalStreaming(
                Kite_Addsvc_AddStream.Method.SumEach.descriptor,
                encode: { (request: SumRequest) in Pb_SumRequest.with { $0.a = Int64(request.a); $0.b = Int64(request.b) } },
                decode: { (reply: Pb_SumReply) in SumResponse(v: Int(reply.v)) },
                options: options
            )
        )
    }
}
