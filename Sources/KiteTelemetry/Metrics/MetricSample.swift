/// The value of one series at one moment, as ``MetricRegistry/collect()`` hands it to push exporters.
public struct MetricSample: Sendable {
    /// A series' value by kind.
    public enum Value: Sendable, Equatable {
        /// A counter's cumulative total.
        case counter(Double)
        /// A gauge's current value.
        case gauge(Double)
        /// A histogram's cumulative buckets and sum.
        case histogram(Histogram.Snapshot)
    }

    /// The family's sanitised name (counters end in `_total`).
    public let name: String
    /// The family's help text.
    public let help: String
    /// The series' labels.
    public let labels: SeriesLabels
    /// The value.
    public let value: Value
    /// The series itself: its identity tells one series from another across collections.
    public let series: any MetricSeries
}
