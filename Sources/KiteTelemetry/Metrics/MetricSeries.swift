/// One time series of a metric family: the handle that observations go to.
///
/// Kite provides ``Counter``, ``Gauge`` and ``Histogram``. A series is created by its
/// ``MetricFamily`` the first time its label values are asked for and lives until the family
/// removes it.
public protocol MetricSeries: AnyObject, Sendable {
    /// What every series of a family shares (histogram buckets; nothing for the others).
    associatedtype Configuration: Sendable

    /// The Prometheus type of this kind of series.
    static var kind: MetricKind { get }

    /// This series' label names and values.
    var labels: SeriesLabels { get }

    /// Creates a zeroed series.
    init(labels: SeriesLabels, configuration: Configuration)

    /// Writes this series' sample lines.
    func write(to writer: inout ExpositionWriter, family: FamilyNames)

    /// The current value, for push exporters.
    var sampleValue: MetricSample.Value { get }
}

/// The kind of a metric family, as Prometheus names it.
public enum MetricKind: String, Sendable {
    case counter
    case gauge
    case histogram
}

/// The label names and values of one series, with the label part of its exposition rendered once.
public struct SeriesLabels: Sendable {
    /// Label names, sanitised by Prometheus' rules.
    public let names: [String]
    /// Label values, as given.
    public let values: [String]
    /// `name="value",…` escaped for the exposition formats, without braces.
    public let rendered: [UInt8]
    /// `name{labels} `, rendered once for the series of counters and gauges (whose sample name is
    /// the same in both formats); empty otherwise.
    public internal(set) var samplePrefix: [UInt8] = []
    /// What the family finds this series by: the values when the family fixes the label names,
    /// names and values interleaved when each series brings its own names.
    @usableFromInline let lookupKey: [String]

    /// Creates a label set; names are sanitised, values are kept as given and escaped on rendering.
    public init(names: [String], values: [String]) {
        self.init(names: names, values: values, lookupKey: values)
    }

    /// Creates a label set from name/value pairs, keyed by both.
    init(pairs: [(String, String)]) {
        self.init(names: pairs.map(\.0), values: pairs.map(\.1), lookupKey: pairs.flatMap { [$0.0, $0.1] })
    }

    private init(names: [String], values: [String], lookupKey: [String]) {
        self.names = names.map(MetricName.sanitizedLabel)
        self.values = values
        self.lookupKey = lookupKey
        var bytes = [UInt8]()
        for (name, value) in zip(self.names, values) {
            if !bytes.isEmpty { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: name.utf8)
            bytes.append(contentsOf: #"=""#.utf8)
            ExpositionWriter.appendEscapedLabelValue(value, to: &bytes)
            bytes.append(UInt8(ascii: "\""))
        }
        self.rendered = bytes
    }

    /// The label set with no labels.
    public static let empty = SeriesLabels(names: [], values: [])
}
