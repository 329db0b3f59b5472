import Kite
import KiteTelemetry

/// A telemetry pipeline whose log lines and metrics a test reads.
struct Pipeline {
    let telemetry: Telemetry
    let logs = InMemoryLogOutput()

    init() {
        var configuration = TelemetryConfiguration(serviceName: "discovery-test", environment: [:])
        configuration.tracesExporter = .none
        configuration.logOutput = self.logs
        configuration.scrapeListener = nil
        configuration.processMetrics = false
        self.telemetry = Telemetry(configuration: configuration)
    }

    var exposition: String {
        String(decoding: self.telemetry.registry.render(format: .prometheusText), as: UTF8.self)
    }

    /// The value of the exposition line that starts with `series`.
    func sample(_ series: String) -> Double? {
        let line = self.exposition.split(separator: "\n").first { $0.hasPrefix(series + " ") }
        return line.flatMap { Double($0.dropFirst(series.count + 1)) }
    }
}

struct TimedOutWaiting: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(self.what)" }
}

/// The first event of `instancer` (from a new subscription: its current state, then changes) that
/// satisfies `predicate`; fails after `timeout`.
func firstEvent(
    of instancer: some Instancer,
    within timeout: Duration = .seconds(30),
    _ what: String,
    where predicate: @escaping @Sendable (InstancerEvent) -> Bool
) async throws -> InstancerEvent {
    try await withThrowingTaskGroup(of: InstancerEvent?.self) { group in
        group.addTask {
            for await event in instancer.events() where predicate(event) { return event }
            return nil
        }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        guard let event = try await group.next() ?? nil else { throw TimedOutWaiting(what: what) }
        return event
    }
}
