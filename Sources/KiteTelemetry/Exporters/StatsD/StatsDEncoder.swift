/// Turns registry samples into StatsD lines, keeping what it sent last so that counters and
/// histograms go out as deltas.
///
/// Deltas are measured from the last collection that was sent (``commit()``): when a flush
/// cannot reach the agent, its changes travel with the next one instead of being lost.
///
/// - Counters: `name:delta|c`, only when they moved. Many increments between flushes are one line.
/// - Gauges: `name:value|g` every flush. A negative value is sent as `name:0|g` then
///   `name:-v|g`, because StatsD reads a leading `-` as "decrement".
/// - Histograms: one line per bucket that gained observations, valued at the bucket's upper bound
///   (observations above the largest bound count with it) with the sample rate `@1/n` that makes
///   the agent count it `n` times. Plain StatsD gets timers in milliseconds (`|ms`) for names ending in
///   `_seconds` and histograms (`|h`) otherwise; DogStatsD gets distributions (`|d`).
/// - Names and tag values are sanitised: `:`, `|`, `@`, `#`, `,`, whitespace and control
///   characters become `_`, so no label value can break a line or forge another.
struct StatsDEncoder {
    let configuration: StatsDConfiguration
    /// Values as of the last collection sent.
    private var previous: [ObjectIdentifier: Previous] = [:]
    /// Values of the collection encoded last, made ``previous`` by ``commit()``.
    private var pending: [ObjectIdentifier: Previous] = [:]

    private enum Previous {
        case counter(Double, series: any MetricSeries)
        case histogram([UInt64], series: any MetricSeries)
    }

    init(configuration: StatsDConfiguration) {
        self.configuration = configuration
    }

    /// The lines for this collection: changes since the last ``commit()``.
    mutating func encode(_ samples: [MetricSample]) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        // Only the series of this collection are kept: removed series leave no baseline behind.
        self.pending.removeAll(keepingCapacity: true)
        for sample in samples {
            let id = ObjectIdentifier(sample.series)
            switch sample.value {
            case .counter(let total):
                var last = 0.0
                if case .counter(let value, _) = self.previous[id] { last = value }
                let delta = total >= last ? total - last : total  // a reset starts again from zero
                self.pending[id] = .counter(total, series: sample.series)
                if delta > 0 { lines.append(self.line(sample, value: delta, type: "c")) }
            case .gauge(let value):
                if value < 0 { lines.append(self.line(sample, value: 0, type: "g")) }
                lines.append(self.line(sample, value: value, type: "g"))
            case .histogram(let snapshot):
                var last = [UInt64](repeating: 0, count: snapshot.bucketCounts.count)
                if case .histogram(let counts, _) = self.previous[id], counts.count == last.count { last = counts }
                self.pending[id] = .histogram(snapshot.bucketCounts, series: sample.series)
                self.appendHistogramLines(sample, snapshot, since: last, to: &lines)
            }
        }
        return lines
    }

    /// Records that the lines encoded last were sent: the next deltas start from them.
    mutating func commit() {
        swap(&self.previous, &self.pending)
    }

    private func appendHistogramLines(
        _ sample: MetricSample,
        _ snapshot: Histogram.Snapshot,
        since last: [UInt64],
        to lines: inout [[UInt8]]
    ) {
        let type: String
        let scale: Double
        switch self.configuration.dialect {
        case .dogstatsd: (type, scale) = ("d", 1)
        case .statsd where sample.name.hasSuffix("_seconds"): (type, scale) = ("ms", 1000)
        case .statsd: (type, scale) = ("h", 1)
        }
        var deltas = zip(snapshot.bucketCounts, last).map { count, previous in count >= previous ? count - previous : count }
        // Observations above the largest bound are reported at that bound, together with its own.
        if deltas.count > 1, let overflow = deltas.popLast() {
            deltas[deltas.count - 1] += overflow
        }
        for (index, delta) in deltas.enumerated() where delta > 0 {
            let bound = index < snapshot.upperBounds.count ? snapshot.upperBounds[index] : 0
            lines.append(self.line(sample, value: bound * scale, type: type, count: delta))
        }
    }

    /// `prefix.name[.k.v]:value|type[|@rate][|#k:v,…]`.
    private func line(_ sample: MetricSample, value: Double, type: String, count: UInt64 = 1) -> [UInt8] {
        var line = [UInt8]()
        line.reserveCapacity(64)
        if !self.configuration.prefix.isEmpty {
            Self.appendSanitised(self.configuration.prefix, to: &line)
            line.append(UInt8(ascii: "."))
        }
        Self.appendSanitised(sample.name, to: &line)
        if self.configuration.dialect == .statsd {
            for (name, labelValue) in zip(sample.labels.names, sample.labels.values) {
                line.append(UInt8(ascii: "."))
                Self.appendSanitised(name, to: &line)
                line.append(UInt8(ascii: "."))
                Self.appendSanitised(labelValue, to: &line)
            }
        }
        line.append(UInt8(ascii: ":"))
        ExpositionWriter.appendDouble(value, to: &line, openMetrics: false)
        line.append(UInt8(ascii: "|"))
        line.append(contentsOf: type.utf8)
        if count > 1 {
            line.append(contentsOf: "|@".utf8)
            line.append(contentsOf: String(1 / Double(count)).utf8)
        }
        if self.configuration.dialect == .dogstatsd, !sample.labels.names.isEmpty {
            line.append(contentsOf: "|#".utf8)
            for (index, (name, labelValue)) in zip(sample.labels.names, sample.labels.values).enumerated() {
                if index > 0 { line.append(UInt8(ascii: ",")) }
                Self.appendSanitised(name, to: &line)
                line.append(UInt8(ascii: ":"))
                Self.appendSanitised(labelValue, to: &line)
            }
        }
        return line
    }

    /// Copies `text`, replacing every byte that would break a StatsD line with `_`.
    static func appendSanitised(_ text: String, to line: inout [UInt8]) {
        if text.isEmpty {
            line.append(UInt8(ascii: "_"))
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: ":"), UInt8(ascii: "|"), UInt8(ascii: "@"), UInt8(ascii: "#"), UInt8(ascii: ","),
                0...0x20, 0x7F:
                line.append(UInt8(ascii: "_"))
            default:
                line.append(byte)
            }
        }
    }

    /// Packs lines into payloads of at most `maxPacketSize` bytes, separated by newlines; lines
    /// longer than a packet are left out and counted in the second result.
    static func pack(_ lines: [[UInt8]], maxPacketSize: Int) -> (packets: [[UInt8]], dropped: Int) {
        var packets: [[UInt8]] = []
        var current: [UInt8] = []
        var dropped = 0
        for line in lines {
            guard line.count <= maxPacketSize else {
                dropped += 1
                continue
            }
            if !current.isEmpty && current.count + 1 + line.count > maxPacketSize {
                packets.append(current)
                current.removeAll(keepingCapacity: true)
            }
            if !current.isEmpty { current.append(UInt8(ascii: "\n")) }
            current.append(contentsOf: line)
        }
        if !current.isEmpty { packets.append(current) }
        return (packets, dropped)
    }
}
