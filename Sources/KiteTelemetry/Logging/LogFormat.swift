/// How ``KiteLogHandler`` writes a line.
public enum LogFormat: String, Sendable, CaseIterable {
    /// `key=value` pairs separated by spaces, as go-kit's log writes them. Values with spaces, `=`,
    /// quotes or control characters are quoted, with `\\`, `\"`, `\n`, `\r`, `\t` and `\u00XX` escapes.
    case logfmt
    /// One JSON object per line.
    case json
}
