import KiteTelemetry
import ServiceLifecycle

/// The state every ``Instancer`` keeps — the instances in force and the subscribers waiting for
/// the next change — and the telemetry of its changes.
///
/// A backend calls ``update(_:)`` with each full set it reads and ``fail(_:)`` when reading fails;
/// subscribers of ``events()`` get the state at once, then each change. Telemetry:
/// `kite_discovery_instances{service}` (gauge), `kite_discovery_changes_total{service}`,
/// `kite_discovery_errors_total{service}`, `kite_discovery_watch_reconnects_total{service}`, and one
/// log line per change or error.
public final class InstanceFeed: Sendable {
    /// The service's name.
    public let service: String
    private let broadcast = LatestValueBroadcast<InstancerEvent>()
    private let instruments: DiscoveryInstruments

    /// Creates a feed with no state yet.
    /// - Parameters:
    ///   - service: The service's name (the `service` label).
    ///   - backend: The backend's name for log lines (`etcd`, `zookeeper`, `dns`, `consul`, `static`).
    ///   - telemetry: Where the metrics and log lines go.
    public init(service: String, backend: String, telemetry: Telemetry) {
        self.service = service
        self.instruments = DiscoveryInstruments(service: service, backend: backend, telemetry: telemetry)
    }

    /// The state in force, or `nil` before the backend first answered.
    public var current: InstancerEvent? { self.broadcast.value }

    /// A new subscription: the current state at once (if known), then each change.
    public func events() -> InstancerEvents {
        InstancerEvents(self.broadcast.subscribe())
    }

    /// Publishes the full set of instances the backend now reports, in the backend's order of
    /// preference (DNS SRV's priority and weight) or sorted when it has none; a repeated instance is
    /// kept once, where it first appears. Nothing is published when the list is unchanged and no
    /// error was outstanding.
    public func update(_ instances: some Sequence<String>) {
        var seen = Set<String>()
        let list = instances.filter { seen.insert($0).inserted }
        let published = self.broadcast.update { current in
            if let current, current.error == nil, current.instances == list { return nil }
            // Counted before subscribers hear of it, so that what they read agrees with the event.
            self.instruments.countChange(to: list)
            return InstancerEvent(instances: list)
        }
        if case .some(let previous) = published { self.instruments.logChange(from: previous, to: list) }
    }

    /// Publishes a backend error. The last known set stays in force; before any set is known, the
    /// event carries an empty one.
    public func fail(_ error: any Error) {
        let published = self.broadcast.update { current in
            self.instruments.countError()
            return InstancerEvent(instances: current?.instances ?? [], error: error)
        }
        if published != nil { self.instruments.logError(error) }
    }

    /// Counts a watch of the backend that broke and was made again.
    public func recordReconnect() {
        self.instruments.reconnected()
    }

    /// Runs a backend's loop that reads and watches it, until graceful shutdown or cancellation;
    /// then ends every subscription — the body of a backend instancer's `run()`.
    public func follow(_ body: @escaping @Sendable () async -> Void) async {
        await cancelWhenGracefulShutdown {
            await body()
        }
        self.finish()
    }

    /// Ends every subscription: the instancer stopped. Later ``events()`` end at once.
    public func finish() {
        self.broadcast.finish()
    }
}
