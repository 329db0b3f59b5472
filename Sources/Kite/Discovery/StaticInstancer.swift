import KiteTelemetry

/// An ``Instancer`` over a fixed list of instances — for a service whose addresses are
/// configuration, and for tests.
public struct StaticInstancer: Instancer {
    public let service: String
    private let feed: InstanceFeed

    /// Creates an instancer that reports `instances` (in their order), now and to every subscriber.
    public init(service: String, instances: [String], telemetry: Telemetry) {
        self.service = service
        self.feed = InstanceFeed(service: service, backend: "static", telemetry: telemetry)
        self.feed.update(instances)
    }

    public func events() -> InstancerEvents {
        self.feed.events()
    }
}
