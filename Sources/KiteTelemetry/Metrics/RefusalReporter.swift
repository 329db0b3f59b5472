import Logging
import Synchronization

/// Counts and logs (once per metric and reason) the series a registry refused to create.
///
/// The counting family, `kite_metric_series_refused_total{metric,reason}`, is not under the
/// registry's series cap and reports nothing itself, so a refusal can never cause another one.
/// Its size is bounded on its own: at most ``maxTrackedPairs`` metric/reason pairs get a series
/// (and a log line) each; refusals of further metrics are counted under `metric="_other"`.
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

    /// The most metric/reason pairs counted (and logged) one by one.
    static let maxTrackedPairs = 1000
    /// The `metric` label value of refusals past ``maxTrackedPairs``.
    static let otherMetrics = "_other"
    /// The most series the counting family holds: every tracked pair and one `_other` per reason.
    static let maxSeries = maxTrackedPairs + 3

    private struct State {
        var counter: MetricFamily<Counter>?
        var tracked: Set<String> = []
        var overflowLogged = false
    }

    init(logger: Logger) {
        self.logger = logger
    }

    /// Sets the family that counts refusals (`kite_metric_series_refused_total`).
    func attach(_ counter: MetricFamily<Counter>) {
        self.state.withLock { $0.counter = counter }
    }

    func report(metric: String, reason: Reason, limit: Int) {
        let key = "\(metric)\u{0}\(reason.rawValue)"
        // Under the lock: the `metric` label to count under, and what to log for the first time.
        let (counter, label, firstTime, overflowFirstTime) = self.state.withLock { state in
            if state.tracked.contains(key) { return (state.counter, metric, false, false) }
            guard state.tracked.count < Self.maxTrackedPairs else {
                defer { state.overflowLogged = true }
                return (state.counter, Self.otherMetrics, false, !state.overflowLogged)
            }
            state.tracked.insert(key)
            return (state.counter, metric, true, false)
        }
        counter?.labels(label, reason.rawValue).increment()
        if overflowFirstTime {
            self.logger.error(
                "more metrics had series refused than are counted one by one; further ones are counted under metric=\(Self.otherMetrics)",
                metadata: ["tracked": "\(Self.maxTrackedPairs)"]
            )
        }
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
