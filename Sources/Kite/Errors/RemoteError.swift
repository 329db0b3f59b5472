/// An error a remote service answered with, as a client endpoint receives it: the code, the
/// HTTP status when the call went over HTTP, and the message.
///
/// Client endpoints throw it when their error decoder does not turn it into a typed error
/// (``matching(_:)`` does that for a service's error enum). It is a ``ServiceError`` with the
/// remote code, so a remote business error stays a business error on the caller's side too.
public struct RemoteError: ServiceError, Hashable, CustomStringConvertible {
    /// The code the service answered with.
    public var code: ErrorCode
    /// The HTTP status, when the call went over HTTP; the code's ``ErrorCode/httpStatus`` otherwise.
    public var httpStatus: Int
    /// The message (the service error's description).
    public var message: String
    /// When the service said to try again (HTTP `Retry-After`, gRPC `grpc-retry-pushback-ms`).
    public var retryAfter: Duration?

    /// Creates a remote error.
    public init(code: ErrorCode, httpStatus: Int? = nil, message: String, retryAfter: Duration? = nil) {
        self.code = code
        self.httpStatus = httpStatus ?? code.httpStatus
        self.message = message
        self.retryAfter = retryAfter
    }

    public var description: String { "\(self.code.name): \(self.message)" }

    /// A decoder that gives back the case of `Failure` whose code and description match the
    /// remote error — the same Swift error the service threw — and the remote error itself when
    /// none does.
    ///
    /// ```swift
    /// let sum = client.endpoint(..., decodeError: RemoteError.matching(AddError.self))
    /// do { _ = try await sum(request) } catch AddError.overflow { … }
    /// ```
    public static func matching<Failure: ServiceError & CaseIterable & CustomStringConvertible>(
        _ type: Failure.Type
    ) -> @Sendable (RemoteError) -> any Error {
        { remote in
            Failure.allCases.first { $0.code == remote.code && $0.description == remote.message } ?? remote
        }
    }
}
