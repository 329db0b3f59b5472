import Logging
import Synchronization

/// Counts and logs (once per metric and reason) the series a registry refused to create.
@usableFromInline
final class RefusalReporter: Sendable {
    /// Why a series was refused.
    enum Reason: String, Sendable {
        /// The family already holds its maximum number of series.
        case cardinality
        /// The number of label values differs from the family's label names.
        case labelCount = "label_count"
        /// The name is already registered with another type or other label names.
        case conflict
    }

    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var counter: MetricFamily<Counter>?
        var logged: Set<String> = []
    }

    init(logger: Logger) {
        self.logger = logger
    }

    /// Sets the family that counts refusals (`kite_metric_series_refused_total`).
    func attach(_ counter: MetricFamily<Counter>) {
        self.state.withLock { $0.counter = counter }
    }

    func report(metric: String, reason: Reason, limit: Int) {
        let (counter, firstTime) = self.state.withLock { state in
            (state.counter, state.logged.insert("\(metric)\u{0}\(reason.rawValue)").inserted)
        }
        counter?.labels(metric, reason.rawValue).increment()
        guard firstTime else { return }
        switch reason {
        case .cardinality:
            self.logger.error(
                "metric reached its series limit; new label sets are refused and not exported",
                metadata: ["metric": "\(metric)", "limit": "\(limit)"]
            )
        case .labelCount:
            self.logger.error(
                "metric was given a different number of label values than it has label names; the observations are not exported",
                metadata: ["metric": "\(metric)"]
            )
        case .conflict:
            self.logger.error(
                "metric name is already registered with another type or other label names; the new registration is not exported",
                metadata: ["metric": "\(metric)"]
            )
        }
    }
}
