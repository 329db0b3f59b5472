import KiteTelemetry
import Logging

/// The metrics and log lines of one ``InstanceFeed``.
final class DiscoveryInstruments: Sendable {
    let instances: Gauge
    let changes: Counter
    let errors: Counter
    let reconnects: Counter
    let logger: Logger

    init(service: String, backend: String, telemetry: Telemetry) {
        let registry = telemetry.registry
        self.instances = registry.gauge(
            "kite_discovery_instances",
            help: "Instances of a service that discovery reports.",
            labelNames: ["service"]
        ).labels(service)
        self.changes = registry.counter(
            "kite_discovery_changes_total",
            help: "Changes of a service's instance set.",
            labelNames: ["service"]
        ).labels(service)
        self.errors = registry.counter(
            "kite_discovery_errors_total",
            help: "Errors reading a service's instances from its discovery backend.",
            labelNames: ["service"]
        ).labels(service)
        self.reconnects = registry.counter(
            "kite_discovery_watch_reconnects_total",
            help: "Watches of a discovery backend made again after they broke.",
            labelNames: ["service"]
        ).labels(service)
        var logger = telemetry.logger
        logger[metadataKey: "service"] = "\(service)"
        logger[metadataKey: "backend"] = "\(backend)"
        self.logger = logger
    }

    func countChange(to instances: [String]) {
        self.instances.set(Double(instances.count))
        self.changes.increment()
    }

    func logChange(from previous: InstancerEvent?, to instances: [String]) {
        let before = Set(previous?.instances ?? [])
        let after = Set(instances)
        self.logger.info(
            "discovery instances changed",
            metadata: [
                "instances": "\(instances.count)",
                "added": "\(after.subtracting(before).sorted().joined(separator: ","))",
                "removed": "\(before.subtracting(after).sorted().joined(separator: ","))",
                "recovered": "\(previous?.error != nil)",
            ]
        )
    }

    func countError() {
        self.errors.increment()
    }

    func logError(_ error: any Error) {
        self.logger.warning(
            "discovery error; keeping the last known instances",
            metadata: ["error_type": "\(String(describing: type(of: error)))", "error": "\(error)"]
        )
    }

    func reconnected() {
        self.reconnects.increment()
    }
}
