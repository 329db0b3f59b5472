import GRPCCore
import Kite

/// How a client endpoint calls its method — go-kit's client options, in Swift form.
public struct GRPCClientOptions: Sendable {
    /// Run before the call on the outgoing metadata (trace headers are in it already).
    public var before: [@Sendable (inout Metadata) -> Void]
    /// Run with the response's initial metadata once the server accepted the call.
    public var after: [@Sendable (Metadata) -> Void]
    /// The time a call may take when the `ServiceContext` carries no earlier deadline; `nil`
    /// for none. Default `nil`.
    public var timeout: Duration?
    /// Turns the error the server answered with into the error the caller catches. Default: the
    /// ``RemoteError`` itself; ``RemoteError/matching(_:)`` gives back a service's own cases.
    public var decodeError: @Sendable (RemoteError) -> any Error

    /// Creates options.
    public init(
        before: [@Sendable (inout Metadata) -> Void] = [],
        after: [@Sendable (Metadata) -> Void] = [],
        timeout: Duration? = nil,
        decodeError: @escaping @Sendable (RemoteError) -> any Error = { $0 }
    ) {
        self.before = before
        self.after = after
        self.timeout = timeout
        self.decodeError = decodeError
    }

    /// Runs the `after` hooks with the response's metadata, when the server accepted the call.
    func runAfter(_ accepted: Result<Metadata, RPCError>) {
        guard case .success(let metadata) = accepted else { return }
        for after in self.after { after(metadata) }
    }
}
