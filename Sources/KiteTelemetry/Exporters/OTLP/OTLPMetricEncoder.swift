import W3CTraceContext

/// Encodes registry samples as an OTLP `ExportMetricsServiceRequest`
/// (`opentelemetry/proto/collector/metrics/v1/metrics_service.proto`).
///
/// - Counters become monotonic `Sum`s, gauges `Gauge`s, histograms `Histogram`s with explicit
///   bounds and their buckets' exemplars of the point's interval; each series is one data point
///   whose attributes are its labels.
/// - Names: a counter's `_total` suffix is left off, as OpenTelemetry names carry none (a
///   collector's Prometheus exporter adds it back); other names are sent as registered. The help
///   text is the description.
/// - Temporality: cumulative by default, with the exporter's start as every point's start time.
///   With ``Temporality/delta`` each point holds the change since the last *successful* export
///   (``commit()``), so an export that failed loses nothing: its changes travel with the next one.
///   Counters and histograms that did not change are left out of delta requests.
public struct OTLPMetricEncoder: ~Copyable, Sendable {
    /// How sums and histograms accumulate.
    public enum Temporality: Sendable {
        /// Each point holds the total since the start.
        case cumulative
        /// Each point holds the change since the previous export.
        case delta
    }

    /// The resource and scope of every request.
    public let resource: OTLPResource
    /// Cumulative or delta.
    public let temporality: Temporality
    private let startNanoseconds: UInt64
    private var writer = ProtobufWriter(capacity: 16 * 1024)
    /// Values as of the last successful export (delta only).
    private var committed: [ObjectIdentifier: Baseline] = [:]
    private var committedNanoseconds: UInt64
    /// Values of every counter and histogram series of the request encoded last (changed or
    /// not), committed when it is delivered.
    private var pending: [ObjectIdentifier: Baseline] = [:]
    private var pendingNanoseconds: UInt64 = 0

    private struct Baseline: Sendable {
        var series: any MetricSeries
        var total: Double
        var buckets: [UInt64]
    }

    /// Creates an encoder.
    /// - Parameters:
    ///   - resource: The resource and scope.
    ///   - temporality: Cumulative (default) or delta.
    ///   - startNanoseconds: The start of every cumulative series, in nanoseconds since the Unix
    ///     epoch; default now.
    public init(resource: OTLPResource, temporality: Temporality = .cumulative, startNanoseconds: UInt64? = nil) {
        let startNanoseconds = startNanoseconds ?? UTCTimestamp.nowNanoseconds()
        self.resource = resource
        self.temporality = temporality
        self.startNanoseconds = startNanoseconds
        self.committedNanoseconds = startNanoseconds
    }

    /// The request encoded by the last ``encode(_:at:)``.
    public var bytes: [UInt8] { self.writer.bytes }

    /// Calls `body` with the request encoded last, without copying it.
    public func withBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try self.writer.withBytes(body)
    }

    /// Encodes one collection taken at `nanoseconds` since the Unix epoch (default now). Returns
    /// the number of data points written.
    @discardableResult
    public mutating func encode(_ samples: [MetricSample], at nanoseconds: UInt64? = nil) -> Int {
        let nanoseconds = nanoseconds ?? UTCTimestamp.nowNanoseconds()
        self.writer.reset()
        self.pending.removeAll(keepingCapacity: true)
        self.pendingNanoseconds = nanoseconds
        var points = 0
        var index = samples.startIndex
        let resource = self.resource
        // Work on the buffer moved out of `self` (not a copy, which would be copied on write).
        var writer = ProtobufWriter()
        swap(&writer, &self.writer)
        writer.exportRequest(resource) { scopeMetrics in
            while index < samples.endIndex {
                // Samples arrive grouped by family: one `Metric` per run of the same name.
                var end = index + 1
                while end < samples.endIndex && samples[end].name == samples[index].name { end += 1 }
                points += self.writeMetric(samples[index..<end], at: nanoseconds, into: &scopeMetrics)
                index = end
            }
        }
        swap(&writer, &self.writer)
        return points
    }

    /// Records that the request encoded last was delivered: the next delta starts from it. The
    /// baselines become those of that request's series alone, so a removed series leaves none
    /// behind.
    public mutating func commit() {
        guard self.temporality == .delta else { return }
        swap(&self.committed, &self.pending)
        self.committedNanoseconds = self.pendingNanoseconds
    }

    /// The number of series whose delta baseline is kept (delta only).
    var baselineCount: Int { self.committed.count }

    /// Writes one `Metric` (field 2 of `ScopeMetrics`); returns its number of points, and writes
    /// nothing when there are none.
    private mutating func writeMetric(_ family: ArraySlice<MetricSample>, at now: UInt64, into writer: inout ProtobufWriter) -> Int {
        guard let first = family.first else { return 0 }
        var points = 0
        let start = writer.count
        writer.message(2, reserving: 2) { metric in
            switch first.value {
            case .counter:
                metric.stringField(1, first.name.hasSuffix("_total") ? String(first.name.dropLast(6)) : first.name)
                metric.stringField(2, first.help)
                metric.message(7, reserving: 2) { sum in
                    for sample in family {
                        guard case .counter(let total) = sample.value else { continue }
                        guard let (value, from) = self.delta(of: sample, total: total, buckets: []) else { continue }
                        sum.message(1) { point in
                            Self.writeAttributes(sample.labels, into: &point)
                            point.fixed64Field(2, from)
                            point.fixed64Field(3, now)
                            point.doubleField(4, value.total, always: true)
                        }
                        points += 1
                    }
                    sum.varintField(2, self.temporality == .delta ? 1 : 2)
                    sum.boolField(3, true)
                }
            case .gauge:
                metric.stringField(1, first.name)
                metric.stringField(2, first.help)
                metric.message(5, reserving: 2) { gauge in
                    for sample in family {
                        guard case .gauge(let value) = sample.value else { continue }
                        gauge.message(1) { point in
                            Self.writeAttributes(sample.labels, into: &point)
                            point.fixed64Field(3, now)
                            point.doubleField(4, value, always: true)
                        }
                        points += 1
                    }
                }
            case .histogram:
                metric.stringField(1, first.name)
                metric.stringField(2, first.help)
                metric.message(9, reserving: 2) { histogram in
                    for sample in family {
                        guard case .histogram(let snapshot) = sample.value else { continue }
                        guard let (value, from) = self.delta(of: sample, total: snapshot.sum, buckets: snapshot.bucketCounts)
                        else { continue }
                        histogram.message(1, reserving: 2) { point in
                            point.fixed64Field(2, from)
                            point.fixed64Field(3, now)
                            point.fixed64Field(4, value.buckets.reduce(0, &+))
                            point.doubleField(5, value.total, always: true)
                            point.packedFixed64Field(6, count: value.buckets.count) { value.buckets[$0] }
                            let bounds = snapshot.upperBounds
                            point.packedFixed64Field(7, count: bounds.count) { bounds[$0].bitPattern }
                            Self.writeAttributes(sample.labels, into: &point, field: 9)
                            // The exemplars of this point's interval (all of them when cumulative);
                            // their times are the kernel tick's, up to a few milliseconds early.
                            for exemplar in snapshot.exemplars where exemplar.timeUnixNano &+ Self.exemplarClockSlack >= from {
                                point.message(8) { Self.writeExemplar(exemplar, into: &$0) }
                            }
                        }
                        points += 1
                    }
                    histogram.varintField(2, self.temporality == .delta ? 1 : 2)
                }
            }
        }
        if points == 0 {
            writer.truncate(to: start)
        }
        return points
    }

    /// The value to send for a counter (`total`) or histogram (`total` = sum, `buckets`) and its
    /// start time; `nil` when a delta request should leave the series out.
    private mutating func delta(of sample: MetricSample, total: Double, buckets: [UInt64]) -> (Baseline, UInt64)? {
        let current = Baseline(series: sample.series, total: total, buckets: buckets)
        guard self.temporality == .delta else { return (current, self.startNanoseconds) }
        let id = ObjectIdentifier(sample.series)
        self.pending[id] = current
        guard let last = self.committed[id], last.buckets.count == buckets.count, total >= last.total else {
            // New series (or reset): everything so far is the change.
            return (current, self.committedNanoseconds)
        }
        let changed = Baseline(
            series: sample.series,
            total: total - last.total,
            buckets: zip(buckets, last.buckets).map { $0 >= $1 ? $0 - $1 : $0 }
        )
        guard changed.total != 0 || changed.buckets.contains(where: { $0 != 0 }) else { return nil }
        return (changed, self.committedNanoseconds)
    }

    /// How far behind the precise clock an exemplar's (coarse) time may be.
    private static let exemplarClockSlack: UInt64 = 10_000_000

    /// An `Exemplar`: its time, value, and the span and trace it was observed in.
    private static func writeExemplar(_ exemplar: Exemplar, into writer: inout ProtobufWriter) {
        writer.fixed64Field(2, exemplar.timeUnixNano)
        writer.doubleField(3, exemplar.value, always: true)
        if let spanID = exemplar.spanID { writer.idField(4, spanID.bytes) }
        if let traceID = exemplar.traceID { writer.idField(5, traceID.bytes) }
    }

    /// A series' labels as `KeyValue`s (field 7 of `NumberDataPoint`, 9 of `HistogramDataPoint`).
    private static func writeAttributes(_ labels: SeriesLabels, into writer: inout ProtobufWriter, field: UInt32 = 7) {
        for (name, value) in zip(labels.names, labels.values) {
            writer.keyValue(field, key: name, string: value)
        }
    }
}
