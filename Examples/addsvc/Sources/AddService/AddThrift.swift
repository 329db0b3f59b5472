import Kite
import KiteTelemetry
import KiteThrift

// go-kit's addsvc.thrift (Examples/addsvc/addsvc.thrift), field for field, so that go-kit's
// Thrift clients call Kite's addsvc unchanged:
//
//     struct SumReply { 1: i64 value, 2: string err }
//     struct ConcatReply { 1: string value, 2: string err }
//     service AddService { SumReply Sum(1: i64 a, 2: i64 b), ConcatReply Concat(1: string a, 2: string b) }

/// `Sum`'s arguments.
public struct ThriftSumArguments: Codable, Sendable {
    public var a: Int
    public var b: Int
    enum CodingKeys: Int, CodingKey { case a = 1, b = 2 }
}

/// `SumReply`: the sum, or the service's error in `err`.
public struct ThriftSumReply: Codable, Sendable {
    public var value: Int
    public var err: String
    enum CodingKeys: Int, CodingKey { case value = 1, err = 2 }
}

/// `Concat`'s arguments.
public struct ThriftConcatArguments: Codable, Sendable {
    public var a: String
    public var b: String
    enum CodingKeys: Int, CodingKey { case a = 1, b = 2 }
}

/// `ConcatReply`: the concatenation, or the service's error in `err`.
public struct ThriftConcatReply: Codable, Sendable {
    public var value: String
    public var err: String
    enum CodingKeys: Int, CodingKey { case value = 1, err = 2 }
}

extension ThriftEndpointServer {
    /// addsvc over Thrift as go-kit serves it: `AddService.Sum` and `AddService.Concat`, the
    /// service's own errors (business errors) in the reply's `err` field as go-kit puts them,
    /// every other failure a `TApplicationException`.
    public static func addService(
        _ endpoints: AddEndpoints,
        configuration: ThriftEndpointServer.Configuration,
        telemetry: Telemetry,
        readiness: Readiness = Readiness(),
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> ThriftEndpointServer {
        ThriftEndpointServer(configuration: configuration, telemetry: telemetry, readiness: readiness, onListening: onListening) { routes in
            routes.method("Sum", Endpoint { (arguments: ThriftSumArguments) in
                do {
                    return ThriftSumReply(value: try await endpoints.sum(SumRequest(a: arguments.a, b: arguments.b)).v, err: "")
                } catch let error as any ServiceError where error.isBusinessError {
                    return ThriftSumReply(value: 0, err: "\(error)")
                }
            })
            routes.method("Concat", Endpoint { (arguments: ThriftConcatArguments) in
                do {
                    return ThriftConcatReply(value: try await endpoints.concat(ConcatRequest(a: arguments.a, b: arguments.b)).v, err: "")
                } catch let error as any ServiceError where error.isBusinessError {
                    return ThriftConcatReply(value: "", err: "\(error)")
                }
            })
        }
    }
}

extension AddEndpoints {
    /// The endpoints of an addsvc served over Thrift through `connection` (go-kit's or Kite's):
    /// an `err` in the reply comes back as the ``AddServiceError`` it names (a
    /// ``RemoteError`` with code `UNKNOWN` for one it does not know).
    public static func thrift(_ connection: ThriftConnection, timeout: Duration = .seconds(5)) -> AddEndpoints {
        let options = ThriftCallOptions(timeout: timeout)
        let sum: Endpoint<ThriftSumArguments, ThriftSumReply> = connection.endpoint("Sum", options: options)
        let concat: Endpoint<ThriftConcatArguments, ThriftConcatReply> = connection.endpoint("Concat", options: options)
        return AddEndpoints(
            sum: Endpoint { request in
                let reply = try await sum(ThriftSumArguments(a: request.a, b: request.b))
                guard reply.err.isEmpty else { throw Self.error(named: reply.err) }
                return SumResponse(v: reply.value)
            },
            concat: Endpoint { request in
                let reply = try await concat(ThriftConcatArguments(a: request.a, b: request.b))
                guard reply.err.isEmpty else { throw Self.error(named: reply.err) }
                return ConcatResponse(v: reply.value)
            }
        )
    }

    private static func error(named message: String) -> any Error {
        AddServiceError.allCases.first { $0.description == message } ?? RemoteError(code: .unknown, message: message)
    }
}
