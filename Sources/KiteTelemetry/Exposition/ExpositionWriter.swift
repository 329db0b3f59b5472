import W3CTraceContext

/// Writes Prometheus text or OpenMetrics exposition into a byte buffer.
///
/// Names and label sets arrive pre-rendered as bytes; the writer only adds punctuation and numbers,
/// so rendering a series costs a few copies and one number format.
public struct ExpositionWriter: Sendable {
    /// The format being written.
    public let format: ExpositionFormat
    /// The bytes written so far.
    public private(set) var bytes: [UInt8]

    /// Creates a writer with `capacity` bytes reserved.
    public init(format: ExpositionFormat, capacity: Int = 4096) {
        self.format = format
        self.bytes = []
        self.bytes.reserveCapacity(capacity)
    }

    /// Appends raw bytes.
    public mutating func append(_ raw: [UInt8]) {
        self.bytes.append(contentsOf: raw)
    }

    /// Writes `name{labels} ` (braces only when there are labels).
    public mutating func sample(name: [UInt8], labels: [UInt8]) {
        self.bytes.append(contentsOf: name)
        if !labels.isEmpty {
            self.bytes.append(UInt8(ascii: "{"))
            self.bytes.append(contentsOf: labels)
            self.bytes.append(UInt8(ascii: "}"))
        }
        self.bytes.append(UInt8(ascii: " "))
    }

    /// Writes `name{labels,le="bound"} `.
    public mutating func bucketSample(name: [UInt8], labels: [UInt8], upperBound: [UInt8]) {
        self.bytes.append(contentsOf: name)
        self.bytes.append(UInt8(ascii: "{"))
        if !labels.isEmpty {
            self.bytes.append(contentsOf: labels)
            self.bytes.append(UInt8(ascii: ","))
        }
        self.bytes.append(contentsOf: #"le=""#.utf8)
        self.bytes.append(contentsOf: upperBound)
        self.bytes.append(contentsOf: #""} "#.utf8)
    }

    /// Ends a line.
    public mutating func newline() {
        self.bytes.append(UInt8(ascii: "\n"))
    }

    /// Writes an unsigned integer in decimal.
    public mutating func appendInteger(_ value: UInt64) {
        Self.appendInteger(value, to: &self.bytes)
    }

    /// Writes a sample value: integers without a fraction in the Prometheus text format and with
    /// `.0` in OpenMetrics, `+Inf`, `-Inf`, `NaN`, and otherwise the shortest decimal that
    /// round-trips.
    public mutating func appendDouble(_ value: Double) {
        Self.appendDouble(value, to: &self.bytes, openMetrics: self.format == .openMetrics)
    }

    /// Writes an OpenMetrics exemplar after a sample's value:
    /// ` # {trace_id="<32 hex>",span_id="<16 hex>"} <value> <seconds.milliseconds>` (the label set
    /// empty when the exemplar has no trace).
    public mutating func appendExemplar(_ exemplar: Exemplar) {
        self.bytes.append(contentsOf: " # {".utf8)
        if let traceID = exemplar.traceID, let spanID = exemplar.spanID {
            self.bytes.append(contentsOf: #"trace_id=""#.utf8)
            Hex.append(traceID, to: &self.bytes)
            self.bytes.append(contentsOf: #"",span_id=""#.utf8)
            Hex.append(spanID, to: &self.bytes)
            self.bytes.append(UInt8(ascii: "\""))
        }
        self.bytes.append(contentsOf: "} ".utf8)
        Self.appendDouble(exemplar.value, to: &self.bytes, openMetrics: true)
        self.bytes.append(UInt8(ascii: " "))
        Self.appendInteger(exemplar.timeUnixNano / 1_000_000_000, to: &self.bytes)
        let milliseconds = exemplar.timeUnixNano / 1_000_000 % 1000
        self.bytes.append(UInt8(ascii: "."))
        self.bytes.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: milliseconds / 100))
        self.bytes.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: milliseconds / 10 % 10))
        self.bytes.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: milliseconds % 10))
    }

    /// Writes the end of the exposition (`# EOF` in OpenMetrics, nothing in the text format).
    public mutating func finish() {
        if self.format == .openMetrics {
            self.bytes.append(contentsOf: "# EOF\n".utf8)
        }
    }

    static func appendInteger(_ value: UInt64, to bytes: inout [UInt8]) {
        if value < 10 {
            bytes.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value))
            return
        }
        var scratch: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for UInt64.max's 20 digits
        withUnsafeMutableBytes(of: &scratch) { digits in
            var remaining = value
            var position = digits.count
            while remaining > 0 {
                position &-= 1
                digits[position] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: remaining % 10)
                remaining /= 10
            }
            bytes.append(contentsOf: digits[position...])
        }
    }

    static func appendDouble(_ value: Double, to bytes: inout [UInt8], openMetrics: Bool) {
        if value.isNaN {
            bytes.append(contentsOf: "NaN".utf8)
        } else if value.isInfinite {
            bytes.append(contentsOf: (value > 0 ? "+Inf" : "-Inf").utf8)
        } else if value == value.rounded(.towardZero), abs(value) < 1e15 {
            if value < 0 { bytes.append(UInt8(ascii: "-")) }
            self.appendInteger(UInt64(abs(value)), to: &bytes)
            if openMetrics { bytes.append(contentsOf: ".0".utf8) }
        } else {
            bytes.append(contentsOf: value.description.utf8)
        }
    }

    /// Appends a label value escaped as both formats require: `\` → `\\`, `"` → `\"`,
    /// newline → `\n`. Everything else, non-ASCII included, is copied as UTF-8.
    static func appendEscapedLabelValue(_ value: String, to bytes: inout [UInt8]) {
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): bytes.append(contentsOf: #"\\"#.utf8)
            case UInt8(ascii: "\""): bytes.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\n"): bytes.append(contentsOf: #"\n"#.utf8)
            default: bytes.append(byte)
            }
        }
    }

    /// Appends `# HELP` text escaped for `format`: `\` and newline in both, `"` in OpenMetrics.
    static func appendEscapedHelp(_ help: String, to bytes: inout [UInt8], format: ExpositionFormat) {
        for byte in help.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): bytes.append(contentsOf: #"\\"#.utf8)
            case UInt8(ascii: "\n"): bytes.append(contentsOf: #"\n"#.utf8)
            case UInt8(ascii: "\"") where format == .openMetrics: bytes.append(contentsOf: #"\""#.utf8)
            default: bytes.append(byte)
            }
        }
    }
}
