/// What an ``Endpointer``'s factory makes for one instance: the endpoint that calls it, and how
/// to release what the endpoint holds (a connection, a client) when the instance goes away.
public struct InstanceEndpoint<Request: Sendable, Response: Sendable>: Sendable {
    /// The endpoint that calls the instance.
    public var endpoint: Endpoint<Request, Response>
    /// Called once when the instance leaves the set or the endpointer stops.
    public var close: (@Sendable () async -> Void)?

    /// Creates the endpoint of an instance.
    public init(_ endpoint: Endpoint<Request, Response>, close: (@Sendable () async -> Void)? = nil) {
        self.endpoint = endpoint
        self.close = close
    }
}
