/// The names a metric family is written under in one exposition format, rendered once.
public struct FamilyNames: Sendable {
    /// `# HELP …\n# TYPE …\n`.
    public let header: [UInt8]
    /// The name of the main sample (`x_total` for counters, `x_bucket` for histograms, `x` for gauges).
    public let sampleName: [UInt8]
    /// `x_sum` (histograms).
    public let sumName: [UInt8]
    /// `x_count` (histograms).
    public let countName: [UInt8]

    /// Names for a family called `name` (already sanitised; counters already end in `_total`).
    init(name: String, help: String, kind: MetricKind, format: ExpositionFormat) {
        // OpenMetrics names a counter family without its `_total` suffix; the text format keeps it.
        let familyName: String
        if kind == .counter, format == .openMetrics, name.hasSuffix("_total") {
            familyName = String(name.dropLast("_total".count))
        } else {
            familyName = name
        }
        var header = [UInt8]()
        if !help.isEmpty {
            header.append(contentsOf: "# HELP \(familyName) ".utf8)
            ExpositionWriter.appendEscapedHelp(help, to: &header, format: format)
            header.append(UInt8(ascii: "\n"))
        }
        header.append(contentsOf: "# TYPE \(familyName) \(kind.rawValue)\n".utf8)
        self.header = header
        switch kind {
        case .histogram: self.sampleName = Array("\(name)_bucket".utf8)
        case .counter, .gauge: self.sampleName = Array(name.utf8)
        }
        self.sumName = Array("\(name)_sum".utf8)
        self.countName = Array("\(name)_count".utf8)
    }
}
