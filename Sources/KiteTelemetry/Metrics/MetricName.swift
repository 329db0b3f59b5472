/// Prometheus' naming rules for metric and label names.
///
/// A metric name matches `[a-zA-Z_:][a-zA-Z0-9_:]*` and a label name `[a-zA-Z_][a-zA-Z0-9_]*`.
/// Every other character (dots from OpenTelemetry names, dashes, spaces, non-ASCII) becomes `_`,
/// a leading digit gets a `_` in front, and an empty name becomes `_`. Label names starting with
/// `__` are reserved by Prometheus, so one more `_` is not enough: they get a `k` in front.
public enum MetricName {
    /// `name` made into a valid Prometheus metric name.
    public static func sanitized(_ name: String) -> String {
        self.sanitize(name, allowColon: true)
    }

    /// `name` made into a valid Prometheus label name.
    public static func sanitizedLabel(_ name: String) -> String {
        let sanitized = self.sanitize(name, allowColon: false)
        return sanitized.hasPrefix("__") ? "k" + sanitized : sanitized
    }

    private static func sanitize(_ name: String, allowColon: Bool) -> String {
        var bytes = [UInt8]()
        bytes.reserveCapacity(name.utf8.count + 1)
        for scalar in name.unicodeScalars {
            let valid: Bool
            switch scalar {
            case "a"..."z", "A"..."Z", "_": valid = true
            case "0"..."9": valid = true
            case ":": valid = allowColon
            default: valid = false
            }
            bytes.append(valid ? UInt8(scalar.value) : UInt8(ascii: "_"))
        }
        if let first = bytes.first, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) {
            bytes.insert(UInt8(ascii: "_"), at: 0)
        }
        if bytes.isEmpty { bytes.append(UInt8(ascii: "_")) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `name` with `suffix` appended unless it already ends with it.
    static func ensuring(suffix: String, on name: String) -> String {
        name.hasSuffix(suffix) ? name : name + suffix
    }
}
