import AsyncHTTPClient
import Kite

/// How a client endpoint calls its route — go-kit's HTTP client options, in Swift form.
public struct HTTPClientOptions: Sendable {
    /// Run before the call on the outgoing request (trace headers are in it already).
    public var before: [@Sendable (inout HTTPClientRequest) -> Void]
    /// Run with the answer's head, before its body is read.
    public var after: [@Sendable (HTTPClientResponse) -> Void]
    /// Run once the call is over, whatever its end: where an access log of outgoing calls goes.
    public var finalizer: [@Sendable (HTTPClientCallSummary) -> Void]
    /// The time a call may take when the `ServiceContext` carries no earlier deadline. Default
    /// 30 seconds.
    public var timeout: Duration
    /// The largest answer body read, in bytes. Default 4 MiB.
    public var maxResponseBodySize: Int
    /// Turns the error the server answered with into the error the caller catches. Default: the
    /// ``RemoteError`` itself; ``RemoteError/matching(_:)`` gives back a service's own cases.
    public var decodeError: @Sendable (RemoteError) -> any Error

    /// Creates options.
    public init(
        before: [@Sendable (inout HTTPClientRequest) -> Void] = [],
        after: [@Sendable (HTTPClientResponse) -> Void] = [],
        finalizer: [@Sendable (HTTPClientCallSummary) -> Void] = [],
        timeout: Duration = .seconds(30),
        maxResponseBodySize: Int = 4 << 20,
        decodeError: @escaping @Sendable (RemoteError) -> any Error = { $0 }
    ) {
        self.before = before
        self.after = after
        self.finalizer = finalizer
        self.timeout = timeout
        self.maxResponseBodySize = maxResponseBodySize
        self.decodeError = decodeError
    }
}

/// One finished outgoing call, as finalizers see it.
public struct HTTPClientCallSummary: Sendable {
    /// The method.
    public var method: String
    /// The URL called.
    public var url: String
    /// The answer's status, when one arrived.
    public var status: Int?
    /// How long the call took, answer body included.
    public var duration: Duration
    /// The bytes of the answer's body read.
    public var responseBodySize: Int
    /// The error the call threw, if it did.
    public var error: (any Error)?
}
