import Synchronization

/// Observations counted into buckets: one series of a histogram family.
///
/// ``observe(_:)`` finds the bucket by binary search, then does one relaxed atomic add on that
/// bucket's count and one compare-and-exchange on the sum. Counts are stored per bucket and made
/// cumulative only when the series is rendered; the total count is the sum of all buckets. The
/// counts and the sum live in one allocation of their own, so that the series' other fields,
/// which every observation reads, never share a cache line with what observations write.
///
/// An observation made inside a sampled span also becomes its bucket's exemplar (with the span's
/// trace and span IDs; the latest per bucket, at most one new one per tick of the kernel's coarse
/// clock), as the registry's ``ExemplarFilter`` says; while no sampled span is in progress that
/// costs one relaxed load. Instrumentation that has the call's span passes it (`observe(_:for:)`),
/// which spares the task-local lookup. Exemplars go out in the OpenMetrics exposition and in OTLP
/// data points.
public final class Histogram: MetricSeries, @unchecked Sendable {
    // @unchecked: `counts` points to `upperBounds.count + 2` atomics (the buckets' counts, then
    // the sum's bits) that live as long as `self` and are only ever accessed atomically.

    /// The bucket boundaries this series counts into.
    public let buckets: HistogramBuckets
    /// The bucket boundaries, ascending, without `+Inf`.
    @inlinable public var upperBounds: [Double] { self.buckets.upperBounds }
    @usableFromInline let counts: UnsafeMutablePointer<Atomic<UInt64>>
    /// The sum's bits, after the counts.
    @usableFromInline let sumBits: UnsafeMutablePointer<Atomic<UInt64>>
    /// Each bucket's last exemplar; `nil` when the filter is ``ExemplarFilter/alwaysOff``.
    @usableFromInline let exemplars: ExemplarReservoir?
    /// Non-zero while an observation may leave an exemplar: the count of sampled spans in
    /// progress (``ExemplarFilter/traceBased``), or a constant 1 (``ExemplarFilter/alwaysOn``).
    @usableFromInline let exemplarGate: UnsafePointer<Atomic<Int>>?

    public let labels: SeriesLabels

    public init(labels: SeriesLabels, configuration: HistogramConfiguration) {
        self.labels = labels
        self.buckets = configuration.buckets
        let slots = configuration.buckets.upperBounds.count + 1
        let raw = UnsafeMutableRawPointer.allocate(byteCount: (slots + 1) * MemoryLayout<Atomic<UInt64>>.stride, alignment: 64)
        self.counts = raw.bindMemory(to: Atomic<UInt64>.self, capacity: slots + 1)
        for index in 0..<slots {
            (self.counts + index).initialize(to: Atomic(0))
        }
        self.sumBits = self.counts + slots
        self.sumBits.initialize(to: Atomic(Double(0).bitPattern))
        switch configuration.exemplarFilter {
        case .alwaysOff:
            self.exemplars = nil
            self.exemplarGate = nil
        case .traceBased:
            self.exemplars = ExemplarReservoir(slots: slots, filter: .traceBased)
            self.exemplarGate = UnsafePointer(ActiveSampledSpans.count)
        case .alwaysOn:
            self.exemplars = ExemplarReservoir(slots: slots, filter: .alwaysOn)
            self.exemplarGate = UnsafePointer(ActiveSampledSpans.always)
        }
    }

    deinit {
        self.counts.deinitialize(count: self.upperBounds.count + 2)
        UnsafeMutableRawPointer(self.counts).deallocate()
    }

    /// Records one observation. NaN is ignored.
    @inlinable
    public func observe(_ value: Double) {
        guard let bucket = self.record(value) else { return }
        if let gate = self.exemplarGate, gate.pointee.load(ordering: .relaxed) != 0 {
            self.exemplars?.offer(value, bucket: bucket)
        }
    }

    /// Records a duration in seconds.
    @inlinable
    public func observe(_ duration: Duration) {
        self.observe(Self.seconds(duration))
    }

    /// Records `value`, measured for `span`: the exemplar names that span (when it is sampled)
    /// rather than the task's current one — for instrumentation that records a call's duration
    /// after the call's span has ended and its context been left.
    @inlinable
    public func observe(_ value: Double, for span: KiteSpan) {
        guard let bucket = self.record(value) else { return }
        if self.exemplars != nil { self.offerExemplar(value, bucket: bucket, span: span) }
    }

    /// Records a duration in seconds, measured for `span`: the exemplar names that span.
    @inlinable
    public func observe(_ duration: Duration, for span: KiteSpan) {
        self.observe(Self.seconds(duration), for: span)
    }

    /// Records a duration in seconds, measured for `span` when the call had one; an untraced
    /// call leaves no exemplar (with ``ExemplarFilter/alwaysOn``, one without a trace).
    @inlinable
    public func observe(_ duration: Duration, for span: KiteSpan?) {
        let seconds = Self.seconds(duration)
        if let span {
            self.observe(seconds, for: span)
        } else if let bucket = self.record(seconds), self.exemplars?.recordsWithoutSpan == true {
            self.offerExemplar(seconds, bucket: bucket)
        }
    }

    /// Counts `value` in its bucket and the sum; its bucket, or `nil` for NaN (not counted).
    @inlinable
    func record(_ value: Double) -> Int? {
        guard !value.isNaN else { return nil }
        let bucket = self.bucketIndex(for: value)
        self.counts[bucket].wrappingAdd(1, ordering: .relaxed)
        AtomicDouble.add(value, to: self.sumBits.pointee)
        return bucket
    }

    @usableFromInline
    func offerExemplar(_ value: Double, bucket: Int, span: borrowing KiteSpan) {
        self.exemplars?.offer(value, bucket: bucket, span: span.core)
    }

    @usableFromInline
    func offerExemplar(_ value: Double, bucket: Int) {
        self.exemplars?.offer(value, bucket: bucket, span: nil)
    }

    @inlinable
    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }

    /// The index of the first bucket whose upper bound is at least `value` (`upperBounds.count`
    /// for the `+Inf` bucket).
    @inlinable
    func bucketIndex(for value: Double) -> Int {
        self.upperBounds.withUnsafeBufferPointer { bounds in
            var low = 0
            var high = bounds.count
            while low < high {
                let middle = (low &+ high) &>> 1
                if bounds[middle] < value {
                    low = middle &+ 1
                } else {
                    high = middle
                }
            }
            return low
        }
    }

    /// A point-in-time copy of the histogram's state.
    public var snapshot: Snapshot {
        var buckets = [UInt64]()
        buckets.reserveCapacity(self.upperBounds.count + 1)
        for index in 0...self.upperBounds.count {
            buckets.append(self.counts[index].load(ordering: .relaxed))
        }
        return Snapshot(
            upperBounds: self.upperBounds,
            bucketCounts: buckets,
            sum: Double(bitPattern: self.sumBits.pointee.load(ordering: .relaxed)),
            exemplars: self.exemplars?.all.compactMap { $0 } ?? []
        )
    }

    /// The state of a histogram at one moment.
    public struct Snapshot: Sendable, Equatable {
        /// Bucket boundaries, ascending, without `+Inf`.
        public var upperBounds: [Double]
        /// Observations per bucket, not cumulative; the last element is the `+Inf` bucket.
        public var bucketCounts: [UInt64]
        /// The sum of all observations.
        public var sum: Double
        /// The buckets' exemplars, lowest bucket first (buckets without one left out).
        public var exemplars: [Exemplar] = []
        /// The number of observations.
        public var count: UInt64 { self.bucketCounts.reduce(0, &+) }
    }

    public var sampleValue: MetricSample.Value { .histogram(self.snapshot) }

    public static let kind = MetricKind.histogram

    public func write(to writer: inout ExpositionWriter, family: FamilyNames) {
        let bounds = self.buckets.renderedUpperBounds(for: writer.format)
        var cumulative: UInt64 = 0
        for index in 0...self.upperBounds.count {
            cumulative &+= self.counts[index].load(ordering: .relaxed)
            writer.bucketSample(
                name: family.sampleName,
                labels: self.labels.rendered,
                upperBound: bounds[index]
            )
            writer.appendInteger(cumulative)
            if writer.format == .openMetrics, let exemplar = self.exemplars?.exemplar(bucket: index) {
                writer.appendExemplar(exemplar)
            }
            writer.newline()
        }
        writer.sample(name: family.sumName, labels: self.labels.rendered)
        writer.appendDouble(Double(bitPattern: self.sumBits.pointee.load(ordering: .relaxed)))
        writer.newline()
        writer.sample(name: family.countName, labels: self.labels.rendered)
        writer.appendInteger(cumulative)
        writer.newline()
    }
}

/// What every series of a histogram family shares: its buckets and which observations leave an
/// exemplar.
public struct HistogramConfiguration: Sendable, Hashable {
    /// The bucket boundaries.
    public var buckets: HistogramBuckets
    /// Which observations leave an exemplar.
    public var exemplarFilter: ExemplarFilter

    /// Creates a configuration.
    public init(buckets: HistogramBuckets, exemplarFilter: ExemplarFilter = .traceBased) {
        self.buckets = buckets
        self.exemplarFilter = exemplarFilter
    }
}

/// The bucket boundaries of a histogram family.
public struct HistogramBuckets: Sendable, Hashable {
    /// Ascending, finite, unique boundaries; `+Inf` is implied.
    public let upperBounds: [Double]
    /// The `le` label values, `+Inf` last, as each format writes them.
    private let textUpperBounds: [[UInt8]]
    private let openMetricsUpperBounds: [[UInt8]]

    /// Creates buckets from any boundaries: they are sorted, de-duplicated, and non-finite values
    /// are dropped (`+Inf` is always present implicitly).
    public init(_ upperBounds: [Double]) {
        let bounds = Array(Set(upperBounds.filter(\.isFinite))).sorted()
        self.upperBounds = bounds
        func render(openMetrics: Bool) -> [[UInt8]] {
            (bounds + [.infinity]).map { bound in
                var bytes = [UInt8]()
                ExpositionWriter.appendDouble(bound, to: &bytes, openMetrics: openMetrics)
                return bytes
            }
        }
        self.textUpperBounds = render(openMetrics: false)
        self.openMetricsUpperBounds = render(openMetrics: true)
    }

    /// The rendered `le` values for `format`, one per bucket, `+Inf` last.
    func renderedUpperBounds(for format: ExpositionFormat) -> [[UInt8]] {
        format == .openMetrics ? self.openMetricsUpperBounds : self.textUpperBounds
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.upperBounds == rhs.upperBounds }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.upperBounds) }

    /// The default buckets, in seconds: those OpenTelemetry advises for `http.server.request.duration`
    /// (5 ms to 10 s).
    public static let defaultSeconds = HistogramBuckets([
        0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
    ])

    /// `count` buckets starting at `start`, each `factor` times the previous.
    public static func exponential(start: Double, factor: Double, count: Int) -> HistogramBuckets {
        var bounds = [Double]()
        var bound = start
        for _ in 0..<max(count, 0) {
            bounds.append(bound)
            bound *= factor
        }
        return HistogramBuckets(bounds)
    }

    /// `count` buckets starting at `start`, each `width` above the previous.
    public static func linear(start: Double, width: Double, count: Int) -> HistogramBuckets {
        HistogramBuckets((0..<max(count, 0)).map { start + Double($0) * width })
    }
}
