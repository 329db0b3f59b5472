import Kite
import KiteTelemetry

/// An instancer whose instances the test sets by hand, through the same ``InstanceFeed`` every
/// backend uses.
struct TestInstancer: Instancer {
    let feed: InstanceFeed
    var service: String { self.feed.service }

    init(service: String = "svc", telemetry: Telemetry) {
        self.feed = InstanceFeed(service: service, backend: "test", telemetry: telemetry)
    }

    func events() -> InstancerEvents { self.feed.events() }
}

/// Waits until the endpointer uses exactly `instances`, in this order.
func waitForInstances<Request, Response>(
    _ endpointer: Endpointer<Request, Response>,
    _ instances: [String]
) async {
    for await applied in endpointer.changes() where applied == instances {
        return
    }
}
