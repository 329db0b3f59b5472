/// Reads configuration variables: trimmed, empty meaning unset, and every value that cannot be
/// used — malformed, out of range, or absurd — replaced by the default and noted as one warning
/// that names the variable, the value given and the value used instead (``Telemetry`` logs the
/// warnings at start).
struct EnvironmentReader {
    /// The variables.
    let environment: [String: String]
    /// What could not be used, in words.
    var warnings: [String] = []

    /// The longest time a millisecond setting may name: one day. Longer delays and timeouts are
    /// typing mistakes, and near `Int.max` nanoseconds they overflow the arithmetic of clocks and
    /// HTTP clients.
    static let maxMilliseconds = 86_400_000

    init(_ environment: [String: String]) {
        self.environment = environment
    }

    /// The trimmed value, or `nil` when unset or empty.
    func value(_ name: String) -> String? {
        guard let raw = self.environment[name]?.trimmingOWS(), !raw.isEmpty else { return nil }
        return raw
    }

    /// Notes a value that cannot be used.
    mutating func warn(_ warning: String) {
        self.warnings.append(warning)
    }

    /// Notes that `name`'s value `raw` is not `what`, and that `fallback` is used instead.
    mutating func reject(_ name: String, _ raw: String, expected what: String, using fallback: String) {
        self.warn("\(name)=\(raw) is not \(what); using \(fallback)")
    }

    /// An integer in `range`; `fallback` when unset or unusable (with a warning).
    mutating func integer(_ name: String, in range: ClosedRange<Int>, default fallback: Int) -> Int {
        guard let raw = self.value(name) else { return fallback }
        guard let parsed = Int(raw), range.contains(parsed) else {
            self.reject(name, raw, expected: "an integer in \(Self.describe(range))", using: "\(fallback)")
            return fallback
        }
        return parsed
    }

    /// A number of milliseconds in `range` (default 1 ms to one day); `fallback` when unset or
    /// unusable (with a warning).
    mutating func milliseconds(
        _ name: String,
        in range: ClosedRange<Int> = 1...maxMilliseconds,
        default fallback: Duration
    ) -> Duration {
        guard let raw = self.value(name) else { return fallback }
        guard let parsed = Int(raw), range.contains(parsed) else {
            self.reject(
                name,
                raw,
                expected: "a number of milliseconds in \(Self.describe(range))",
                using: "\(Self.milliseconds(of: fallback))"
            )
            return fallback
        }
        return .milliseconds(parsed)
    }

    /// A TCP or UDP port (0…65535; 0: any free port); `fallback` when unset or unusable.
    mutating func port(_ name: String, default fallback: Int) -> Int {
        self.integer(name, in: 0...65535, default: fallback)
    }

    /// `1…86400000`, or `0…` for a range without a practical upper end.
    private static func describe(_ range: ClosedRange<Int>) -> String {
        range.upperBound == .max ? "\(range.lowerBound)…" : "\(range.lowerBound)…\(range.upperBound)"
    }

    /// A duration in whole milliseconds, for messages.
    static func milliseconds(of duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
