import Logging

/// The fields of a line of Kite's own instrumentation that do not change from call to call —
/// `level`, `msg`, `source`, `label` and the handler's metadata — encoded once by
/// ``KiteLogHandler/lineTemplate(level:message:source:)`` in the handler's format, each with its
/// leading separator, and copied into every line as they are.
package struct LogLineTemplate: Sendable {
    /// The level the lines are written at (the caller checks it against the handler's).
    package let level: Logger.Level
    let bytes: [UInt8]
}
