/// Reads configuration variables: trimmed, empty meaning unset, and what cannot be used noted as
/// a warning (the default then stays) for ``Telemetry`` to log at start.
struct EnvironmentReader {
    /// The variables.
    let environment: [String: String]
    /// What could not be used, in words.
    var warnings: [String] = []

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

    /// A non-negative integer.
    mutating func integer(_ name: String) -> Int? {
        guard let raw = self.value(name) else { return nil }
        guard let parsed = Int(raw), parsed >= 0 else {
            self.warn("\(name)=\(raw) is not a non-negative integer; using the default")
            return nil
        }
        return parsed
    }

    /// A non-negative number of milliseconds.
    mutating func milliseconds(_ name: String) -> Duration? {
        guard let raw = self.value(name) else { return nil }
        guard let parsed = Int(raw), parsed >= 0 else {
            self.warn("\(name)=\(raw) is not a non-negative number of milliseconds; using the default")
            return nil
        }
        return .milliseconds(parsed)
    }
}
