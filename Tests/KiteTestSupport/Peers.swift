import Foundation

/// Finds the real programs tests talk to (promtool, prometheus, …).
///
/// Under CI (`CI=true`) a missing peer is a failure, never a skip: ``require(_:)`` throws.
/// Elsewhere tests that need a missing peer are skipped by ``isAvailable(_:)`` in their traits.
public enum Peers {
    /// Whether this run is under CI.
    public static var isCI: Bool {
        ProcessInfo.processInfo.environment["CI"]?.lowercased() == "true"
    }

    /// The full path of `program` on `PATH`, if any.
    public static func path(of program: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(program)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Whether a test needing `program` should run: it is installed, or we are under CI (where
    /// the test then fails loudly in ``require(_:)``).
    public static func isAvailable(_ program: String) -> Bool {
        self.isCI || self.path(of: program) != nil
    }

    /// The path of `program`, or an error saying it is missing.
    public static func require(_ program: String) throws -> String {
        guard let path = self.path(of: program) else { throw PeerMissing(program: program) }
        return path
    }

    public struct PeerMissing: Error, CustomStringConvertible {
        public let program: String
        public init(program: String) { self.program = program }
        public var description: String {
            "\(self.program) is not installed; run Scripts/test.sh, which installs the test peers"
        }
    }
}
