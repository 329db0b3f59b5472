import Synchronization

/// A named metric with a fixed set of label names, holding one series per label-value combination.
///
/// Resolve a series once and keep it — that is the fast path:
///
/// ```swift
/// let requests = registry.counter("http_requests_total", help: "Requests.", labelNames: ["method"])
/// let gets = requests.labels("GET")   // resolved once
/// gets.increment()                    // one atomic add per call
/// ```
///
/// Looking a series up by its values (``labels(_:)``) takes a short lock and allocates nothing
/// when the series exists. The number of series is capped (``MetricRegistry/Configuration/maxSeriesPerMetric``):
/// past the cap a new combination is refused, counted in `kite_metric_series_refused_total` and
/// logged once, and the caller gets a detached series whose observations are not exported.
public final class MetricFamily<Series: MetricSeries>: Sendable {
    /// The sanitised metric name.
    public let name: String
    /// The help text.
    public let help: String
    /// The label names, or `nil` when each series carries its own (series made through swift-metrics).
    public let labelNames: [String]?
    /// What every series shares (histogram buckets).
    public let configuration: Series.Configuration

    @usableFromInline let maxSeries: Int
    @usableFromInline let storage: Mutex<Storage>
    /// Where refusals are reported; `nil` for the family that counts them.
    @usableFromInline let refusals: RefusalReporter?
    let textNames: FamilyNames
    let openMetricsNames: FamilyNames

    @usableFromInline
    struct Storage: ~Copyable {
        /// Series by the hash of their label values, for lookup.
        @usableFromInline var index: [Int: [Series]] = [:]
        /// Series in creation order, for rendering.
        @usableFromInline var ordered: [Series] = []
        /// The detached series handed out for refused label sets.
        @usableFromInline var overflow: Series?

        @usableFromInline init() {}
    }

    init(
        name: String,
        help: String,
        labelNames: [String]?,
        configuration: Series.Configuration,
        maxSeries: Int,
        refusals: RefusalReporter?
    ) {
        self.name = name
        self.help = help
        self.labelNames = labelNames?.map(MetricName.sanitizedLabel)
        self.configuration = configuration
        self.maxSeries = maxSeries
        self.refusals = refusals
        self.storage = Mutex(Storage())
        self.textNames = FamilyNames(name: name, help: help, kind: Series.kind, format: .prometheusText)
        self.openMetricsNames = FamilyNames(name: name, help: help, kind: Series.kind, format: .openMetrics)
    }

    /// The series without labels (for a family declared with no label names).
    @inlinable
    public func labels() -> Series {
        self.series(hash: 0, count: 0, matches: { _ in true }, values: { [] })
    }

    /// The series for one label value.
    @inlinable
    public func labels(_ value0: String) -> Series {
        var hasher = Hasher()
        hasher.combine(value0)
        return self.series(hash: hasher.finalize(), count: 1, matches: { $0[0] == value0 }, values: { [value0] })
    }

    /// The series for two label values, in the order of ``labelNames``.
    @inlinable
    public func labels(_ value0: String, _ value1: String) -> Series {
        var hasher = Hasher()
        hasher.combine(value0)
        hasher.combine(value1)
        return self.series(
            hash: hasher.finalize(),
            count: 2,
            matches: { $0[0] == value0 && $0[1] == value1 },
            values: { [value0, value1] }
        )
    }

    /// The series for three label values, in the order of ``labelNames``.
    @inlinable
    public func labels(_ value0: String, _ value1: String, _ value2: String) -> Series {
        var hasher = Hasher()
        hasher.combine(value0)
        hasher.combine(value1)
        hasher.combine(value2)
        return self.series(
            hash: hasher.finalize(),
            count: 3,
            matches: { $0[0] == value0 && $0[1] == value1 && $0[2] == value2 },
            values: { [value0, value1, value2] }
        )
    }

    /// The series for any number of label values, in the order of ``labelNames``.
    @inlinable
    public func labels(_ values: [String]) -> Series {
        var hasher = Hasher()
        for value in values { hasher.combine(value) }
        return self.series(hash: hasher.finalize(), count: values.count, matches: { $0 == values }, values: { values })
    }

    /// The series for label name/value pairs; only for families without fixed ``labelNames``.
    func labels(pairs: [(String, String)]) -> Series {
        let key = pairs.flatMap { [$0.0, $0.1] }
        var hasher = Hasher()
        for part in key { hasher.combine(part) }
        return self.lookup(hash: hasher.finalize(), count: key.count, matches: { $0 == key }) {
            SeriesLabels(pairs: pairs)
        }
    }

    @inlinable
    func series(
        hash: Int,
        count: Int,
        matches: ([String]) -> Bool,
        values: () -> [String]
    ) -> Series {
        self.lookup(hash: hash, count: count, matches: matches) {
            SeriesLabels(names: self.labelNames ?? [], values: values())
        }
    }

    /// Finds the series whose lookup key (its values, or names and values interleaved for a family
    /// without fixed label names) has `hash`, `count` elements and `matches`; creates it if the cap
    /// allows.
    @inlinable
    func lookup(
        hash: Int,
        count: Int,
        matches: ([String]) -> Bool,
        makeLabels: () -> SeriesLabels
    ) -> Series {
        let found: Series? = self.storage.withLock { storage in
            guard let candidates = storage.index[hash] else { return nil }
            for candidate in candidates {
                let key = candidate.labels.lookupKey
                if key.count == count, matches(key) { return candidate }
            }
            return nil
        }
        if let found { return found }
        return self.insert(hash: hash, makeLabels: makeLabels)
    }

    @usableFromInline
    func insert(hash: Int, makeLabels: () -> SeriesLabels) -> Series {
        var labels = makeLabels()
        if Series.kind != .histogram {
            var writer = ExpositionWriter(format: .prometheusText, capacity: 0)
            writer.sample(name: self.textNames.sampleName, labels: labels.rendered)
            labels.samplePrefix = writer.bytes
        }
        if let expected = self.labelNames, expected.count != labels.values.count {
            return self.refuse(.labelCount)
        }
        let key = labels.lookupKey
        let (series, refused): (Series, Bool) = self.storage.withLock { storage in
            // Another task may have created it since the lookup.
            if let existing = storage.index[hash]?.first(where: { $0.labels.lookupKey == key }) {
                return (existing, false)
            }
            guard storage.ordered.count < self.maxSeries else {
                return (Self.overflowSeries(in: &storage, configuration: self.configuration), true)
            }
            let series = Series(labels: labels, configuration: self.configuration)
            storage.index[hash, default: []].append(series)
            storage.ordered.append(series)
            return (series, false)
        }
        if refused { self.refusals?.report(metric: self.name, reason: .cardinality, limit: self.maxSeries) }
        return series
    }

    private func refuse(_ reason: RefusalReporter.Reason) -> Series {
        let series = self.storage.withLock { Self.overflowSeries(in: &$0, configuration: self.configuration) }
        self.refusals?.report(metric: self.name, reason: reason, limit: self.maxSeries)
        return series
    }

    private static func overflowSeries(in storage: inout Storage, configuration: Series.Configuration) -> Series {
        if let overflow = storage.overflow { return overflow }
        let overflow = Series(labels: .empty, configuration: configuration)
        storage.overflow = overflow
        return overflow
    }

    /// Removes a series; its handle keeps working but is no longer exported.
    public func remove(_ series: Series) {
        self.storage.withLock { storage in
            storage.ordered.removeAll { $0 === series }
            for (hash, candidates) in storage.index where candidates.contains(where: { $0 === series }) {
                let remaining = candidates.filter { $0 !== series }
                storage.index[hash] = remaining.isEmpty ? nil : remaining
            }
        }
    }

    /// The series that exist now, in creation order.
    public var allSeries: [Series] {
        self.storage.withLock { $0.ordered }
    }

    /// The number of series.
    public var seriesCount: Int {
        self.storage.withLock { $0.ordered.count }
    }
}

extension MetricFamily: RegisteredFamily {
    var kind: MetricKind { Series.kind }

    func collect(into samples: inout [MetricSample]) {
        for series in self.allSeries {
            samples.append(MetricSample(name: self.name, help: self.help, labels: series.labels, value: series.sampleValue, series: series))
        }
    }

    func write(to writer: inout ExpositionWriter) {
        let series = self.allSeries
        guard !series.isEmpty else { return }
        let names = writer.format == .openMetrics ? self.openMetricsNames : self.textNames
        writer.append(names.header)
        for one in series {
            one.write(to: &writer, family: names)
        }
    }
}

/// What the registry keeps of a family, whatever its series type.
protocol RegisteredFamily: AnyObject, Sendable {
    var name: String { get }
    var kind: MetricKind { get }
    var seriesCount: Int { get }
    func write(to writer: inout ExpositionWriter)
    func collect(into samples: inout [MetricSample])
}
