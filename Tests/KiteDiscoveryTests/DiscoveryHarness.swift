import Kite
import KiteTelemetry
import Synchronization

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
    /// The last event seen before giving up, if any.
    var last: InstancerEvent? = nil
    /// The log lines written until then, when the test gave them.
    var logs: [String] = []
    var description: String {
        let seen = self.last.map { "the last event: \($0.instances), error \($0.error.map { "\($0)" } ?? "none")" } ?? "no event at all"
        let logged = self.logs.isEmpty ? "" : "; the log:\n" + self.logs.joined(separator: "\n")
        return "timed out waiting for \(self.what); \(seen)\(logged)"
    }
}

/// The last event a wait saw.
private final class LastEvent: Sendable {
    let event = Mutex<InstancerEvent?>(nil)
}

/// The first event of `instancer` (from a new subscription: its current state, then changes) that
/// satisfies `predicate`; fails after `timeout`, saying what the last event was (and what `logs`
/// holds, when given: the components' own account of what they did meanwhile).
func firstEvent(
    of instancer: some Instancer,
    within timeout: Duration = .seconds(30),
    logs: InMemoryLogOutput? = nil,
    _ what: String,
    where predicate: @escaping @Sendable (InstancerEvent) -> Bool
) async throws -> InstancerEvent {
    let last = LastEvent()
    return try await withThrowingTaskGroup(of: InstancerEvent?.self) { group in
        group.addTask {
            for await event in instancer.events() {
                if predicate(event) { return event }
                last.event.withLock { $0 = event }
            }
            return nil
        }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        guard let event = try await group.next() ?? nil else {
            throw TimedOutWaiting(what: what, last: last.event.withLock { $0 }, logs: logs?.lines ?? [])
        }
        return event
    }
}
