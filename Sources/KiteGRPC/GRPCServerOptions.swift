import GRPCCore
import Tracing

/// Hooks around the calls of a gRPC route — go-kit's server options, in Swift form.
public struct GRPCServerOptions: Sendable {
    /// Run before the endpoint with the request metadata; may enrich the call's
    /// `ServiceContext` (a tenant header into baggage, say). The caller's trace context and
    /// deadline are in it already.
    public var before: [@Sendable (Metadata, inout ServiceContext) -> Void]
    /// Run after the endpoint answered, on the trailing metadata sent with the status.
    public var after: [@Sendable (inout Metadata) -> Void]

    /// Creates options.
    public init(
        before: [@Sendable (Metadata, inout ServiceContext) -> Void] = [],
        after: [@Sendable (inout Metadata) -> Void] = []
    ) {
        self.before = before
        self.after = after
    }
}
