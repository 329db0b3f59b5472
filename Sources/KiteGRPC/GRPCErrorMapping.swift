import GRPCCore
import Kite

/// Kite's error model over gRPC: an error leaves a server as a status with the error's code and
/// description, and a status arrives at a client as a ``RemoteError`` (or, through the client's
/// error decoder, as the service's own error).
public enum GRPCErrorMapping {
    /// The trailing metadata key with which a server tells a client when to retry, in
    /// milliseconds (gRPC's retry pushback, gRFC A6).
    public static let retryPushbackKey = "grpc-retry-pushback-ms"

    /// The `RPCError` a server answers `error` with: an `RPCError` as it is; a ``ServiceError``
    /// with its code and description (and its ``ServiceError/retryAfter`` as
    /// `grpc-retry-pushback-ms`); a `CancellationError` as `CANCELLED`; anything else `UNKNOWN`
    /// with the error's description.
    public static func rpcError(for error: any Error) -> RPCError {
        if let error = error as? RPCError { return error }
        let code = CallOutcome.code(of: error)
        var metadata = Metadata()
        if let retryAfter = (error as? any ServiceError)?.retryAfter {
            let (seconds, attoseconds) = retryAfter.components
            let milliseconds = max(seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000, 0)
            metadata.addString(String(milliseconds), forKey: Self.retryPushbackKey)
        }
        return RPCError(code: Self.rpcCode(code), message: String(describing: error), metadata: metadata)
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

    /// The error a client sees for a status the server answered with; a
    /// `grpc-retry-pushback-ms` in its metadata becomes the ``RemoteError/retryAfter``.
    public static func remoteError(for error: RPCError) -> RemoteError {
        let pushback = error.metadata[stringValues: Self.retryPushbackKey].first { _ in true }
            .flatMap { Int64($0) }
            .flatMap { $0 >= 0 ? Duration.milliseconds($0) : nil }
        return RemoteError(code: Self.errorCode(error.code), message: error.message, retryAfter: pushback)
    }
}
