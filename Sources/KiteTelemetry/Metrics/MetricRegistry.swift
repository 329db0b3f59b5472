import Logging
import Synchronization

/// Holds every metric family of a process and renders them for Prometheus.
///
/// Families are created (or found again, when the name, type and label names match) by
/// ``counter(_:help:labelNames:)``, ``gauge(_:help:labelNames:)`` and
/// ``histogram(_:help:labelNames:buckets:)``. The registry is also a swift-metrics backend: see
/// ``KiteMetricsFactory``.
public final class MetricRegistry: Sendable {
    /// How the registry bounds and shapes its metrics.
    public struct Configuration: Sendable {
        /// The most series (label-value combinations) one metric may hold. Default 10,000.
        public var maxSeriesPerMetric: Int
        /// Buckets for histograms that do not name their own. Default ``HistogramBuckets/defaultSeconds``.
        public var defaultBuckets: HistogramBuckets
        /// Buckets by metric name, for histograms made through swift-metrics (recorders, timers).
        public var bucketsByMetricName: [String: HistogramBuckets]
        /// Which histogram observations leave an exemplar. Default ``ExemplarFilter/traceBased``.
        public var exemplarFilter: ExemplarFilter

        /// Creates a configuration.
        public init(
            maxSeriesPerMetric: Int = 10_000,
            defaultBuckets: HistogramBuckets = .defaultSeconds,
            bucketsByMetricName: [String: HistogramBuckets] = [:],
            exemplarFilter: ExemplarFilter = .traceBased
        ) {
            self.maxSeriesPerMetric = maxSeriesPerMetric
            self.defaultBuckets = defaultBuckets
            self.bucketsByMetricName = bucketsByMetricName
            self.exemplarFilter = exemplarFilter
        }
    }

    /// The configuration the registry was made with.
    public let configuration: Configuration
    private let families = Mutex<[String: any RegisteredFamily]>([:])
    private let collectHooks = Mutex<[@Sendable () -> Void]>([])
    private let refusals: RefusalReporter
    /// The size of the last rendering, to reserve the next one's buffer in one allocation.
    private let lastRenderedSize = Atomic<Int>(1 << 16)

    /// Creates an empty registry (holding only `kite_metric_series_refused_total`).
    /// - Parameters:
    ///   - configuration: Limits and default buckets.
    ///   - logger: Where refusals and conflicts are logged (once each).
    public init(configuration: Configuration = .init(), logger: Logger = Logger(label: "kite.metrics")) {
        self.configuration = configuration
        self.refusals = RefusalReporter(logger: logger)
        // The family counting refusals is outside the cap and reports nothing itself: a refusal
        // must never cause another (RefusalReporter bounds its size instead).
        let refusedName = "kite_metric_series_refused_total"
        let refused = MetricFamily<Counter>(
            name: refusedName,
            help: "Series a metric refused to create (reason: cardinality, label_count, conflict); their observations are not exported.",
            labelNames: ["metric", "reason"],
            configuration: (),
            maxSeries: RefusalReporter.maxSeries,
            refusals: nil
        )
        self.families.withLock { $0[refusedName] = refused }
        self.refusals.attach(refused)
    }

    /// The counter family `name` (`_total` is appended when missing, as Prometheus names counters).
    public func counter(_ name: String, help: String, labelNames: [String] = []) -> MetricFamily<Counter> {
        let name = MetricName.ensuring(suffix: "_total", on: MetricName.sanitized(name))
        return self.family(name: name, help: help, labelNames: labelNames, configuration: ())
    }

    /// The gauge family `name`.
    public func gauge(_ name: String, help: String, labelNames: [String] = []) -> MetricFamily<Gauge> {
        self.family(name: MetricName.sanitized(name), help: help, labelNames: labelNames, configuration: ())
    }

    /// The histogram family `name`, with `buckets` or the registry's default buckets.
    public func histogram(
        _ name: String,
        help: String,
        labelNames: [String] = [],
        buckets: HistogramBuckets? = nil
    ) -> MetricFamily<Histogram> {
        let name = MetricName.sanitized(name)
        return self.family(
            name: name,
            help: help,
            labelNames: labelNames,
            configuration: self.histogramConfiguration(forMetricNamed: name, buckets: buckets)
        )
    }

    /// The buckets a histogram called `name` gets when it does not name its own.
    func buckets(forMetricNamed name: String) -> HistogramBuckets {
        self.configuration.bucketsByMetricName[name] ?? self.configuration.defaultBuckets
    }

    /// The configuration of a histogram called `name`: `buckets`, or those it gets when it does
    /// not name its own, and the registry's exemplar filter.
    func histogramConfiguration(forMetricNamed name: String, buckets: HistogramBuckets? = nil) -> HistogramConfiguration {
        HistogramConfiguration(buckets: buckets ?? self.buckets(forMetricNamed: name), exemplarFilter: self.configuration.exemplarFilter)
    }

    /// Finds or creates a family. A name registered before with another type or other label names
    /// yields a detached family: it works, but it is not exported, and the conflict is counted and logged.
    func family<Series: MetricSeries>(
        name: String,
        help: String,
        labelNames: [String]?,
        configuration: Series.Configuration
    ) -> MetricFamily<Series> {
        let sanitizedLabels = labelNames?.map(MetricName.sanitizedLabel)
        let (family, conflict): (MetricFamily<Series>, Bool) = self.families.withLock { families in
            if let existing = families[name] {
                if let typed = existing as? MetricFamily<Series>, typed.labelNames == sanitizedLabels {
                    return (typed, false)
                }
                return (self.makeFamily(name: name, help: help, labelNames: labelNames, configuration: configuration), true)
            }
            let family: MetricFamily<Series> = self.makeFamily(
                name: name,
                help: help,
                labelNames: labelNames,
                configuration: configuration
            )
            families[name] = family
            return (family, false)
        }
        if conflict {
            self.refusals.report(metric: name, reason: .conflict, limit: self.configuration.maxSeriesPerMetric)
        }
        return family
    }

    private func makeFamily<Series: MetricSeries>(
        name: String,
        help: String,
        labelNames: [String]?,
        configuration: Series.Configuration
    ) -> MetricFamily<Series> {
        MetricFamily(
            name: name,
            help: help,
            labelNames: labelNames,
            configuration: configuration,
            maxSeries: self.configuration.maxSeriesPerMetric,
            refusals: self.refusals
        )
    }

    /// Registers work to run before every rendering, such as refreshing gauges read from the system.
    public func addCollectHook(_ hook: @escaping @Sendable () -> Void) {
        self.collectHooks.withLock { $0.append(hook) }
    }

    /// Renders every family in `format`, families sorted by name.
    public func render(format: ExpositionFormat) -> [UInt8] {
        var writer = ExpositionWriter(format: format, capacity: self.lastRenderedSize.load(ordering: .relaxed) + 4096)
        self.write(to: &writer)
        writer.finish()
        self.lastRenderedSize.store(writer.bytes.count, ordering: .relaxed)
        return writer.bytes
    }

    /// Writes every family (without the OpenMetrics `# EOF`), families sorted by name.
    public func write(to writer: inout ExpositionWriter) {
        for family in self.prepareFamilies() {
            family.write(to: &writer)
        }
    }

    /// The current value of every series, families sorted by name: what push exporters read.
    public func collect() -> [MetricSample] {
        var samples: [MetricSample] = []
        for family in self.prepareFamilies() {
            family.collect(into: &samples)
        }
        return samples
    }

    /// Runs the collect hooks and returns the families sorted by name.
    private func prepareFamilies() -> [any RegisteredFamily] {
        for hook in self.collectHooks.withLock({ $0 }) {
            hook()
        }
        return self.families.withLock { $0.values.sorted { $0.name < $1.name } }
    }

    /// The number of series held by the metric called `name` (0 when there is none).
    public func seriesCount(of name: String) -> Int {
        self.families.withLock { $0[name] }?.seriesCount ?? 0
    }
}
