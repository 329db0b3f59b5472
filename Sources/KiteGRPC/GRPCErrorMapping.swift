import GRPCCore
import Kite

/// Kite's error model over gRPC: an error leaves a server as a status with the error's code and
/// description, and a status arrives at a client as a ``RemoteError`` (or, through the client's
/// error decoder, as the service's own error).
public enum GRPCErrorMapping {
    /// The `RPCError` a server answers `error` with: an `RPCError` as it is; a ``ServiceError``
    /// with its code and description; a `CancellationError` as `CANCELLED`; anything else
    /// `UNKNOWN` with the error's description.
    public static func rpcError(for error: any Error) -> RPCError {
        if let error = error as? RPCError { return error }
        let code = CallOutcome.code(of: error)
        return RPCError(code: Self.rpcCode(code), message: String(describing: error))
    }

    /// The gRPC code of a Kite ``ErrorCode`` (the numbers are the same); `OK` has none and becomes
    /// `UNKNOWN`.
    public static func rpcCode(_ code: ErrorCode) -> RPCError.Code {
        Status.Code(rawValue: code.rawValue).flatMap { RPCError.Code($0) } ?? .unknown
    }

    /// The Kite ``ErrorCode`` of a gRPC code.
    public static func errorCode(_ code: RPCError.Code) -> ErrorCode {
        ErrorCode(rawValue: code.rawValue) ?? .unknown
    }

    /// The error a client sees for a status the server answered with.
    public static func remoteError(for error: RPCError) -> RemoteError {
        RemoteError(code: Self.errorCode(error.code), message: error.message)
    }
}
