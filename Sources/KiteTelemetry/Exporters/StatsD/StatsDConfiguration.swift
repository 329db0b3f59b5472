/// Where and how ``StatsDExporter`` pushes.
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `KITE_STATSD_ADDRESS` | — (exporter off) | `host:port` of the StatsD or DogStatsD agent (UDP), or `unix:///path` for its Unix domain datagram socket |
/// | `KITE_STATSD_DIALECT` | `statsd` | `statsd` or `dogstatsd` |
/// | `KITE_STATSD_PREFIX` | — | prepended to every metric name (`prefix.name`) |
/// | `KITE_STATSD_FLUSH_INTERVAL` | `1000` | ms between flushes |
/// | `KITE_STATSD_MAX_PACKET` | `1432` | the most payload bytes per datagram |
public struct StatsDConfiguration: Sendable, Hashable {
    /// The line format.
    public enum Dialect: String, Sendable, Hashable {
        /// Plain StatsD: `name:value|c`; labels become name parts (`name.key.value`).
        case statsd
        /// DogStatsD: labels become tags (`|#key:value`), histograms are distributions (`|d`).
        case dogstatsd
    }

    /// The agent's host.
    public var host: String
    /// The agent's UDP port.
    public var port: Int
    /// The agent's Unix domain datagram socket; when set, used instead of `host` and `port`.
    public var unixSocketPath: String?
    /// The line format. Default plain StatsD.
    public var dialect: Dialect
    /// Prepended to every name with a `.`; empty for none.
    public var prefix: String
    /// Time between flushes. Default 1 s.
    public var flushInterval: Duration
    /// The most payload bytes per datagram. Default 1432 (fits an Ethernet MTU after headers).
    public var maxPacketSize: Int

    /// Creates a configuration.
    public init(
        host: String,
        port: Int = 8125,
        dialect: Dialect = .statsd,
        prefix: String = "",
        flushInterval: Duration = .seconds(1),
        maxPacketSize: Int = 1432,
        unixSocketPath: String? = nil
    ) {
        self.host = host
        self.port = port
        self.unixSocketPath = unixSocketPath
        self.dialect = dialect
        self.prefix = prefix
        self.flushInterval = flushInterval
        self.maxPacketSize = max(maxPacketSize, 64)
    }

    /// The configuration the `KITE_STATSD_*` variables describe, `nil` when `KITE_STATSD_ADDRESS`
    /// is unset; problems are appended to `warnings`.
    static func fromEnvironment(_ environment: [String: String], warnings: inout [String]) -> StatsDConfiguration? {
        guard let address = environment["KITE_STATSD_ADDRESS"]?.trimmingOWS(), !address.isEmpty else { return nil }
        var configuration: StatsDConfiguration
        if address.hasPrefix("unix://"), address.count > "unix://".count {
            configuration = StatsDConfiguration(host: "", port: 0, unixSocketPath: String(address.dropFirst("unix://".count)))
        } else if let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
                  port > 0, port < 65536
        {
            configuration = StatsDConfiguration(host: String(address[..<colon]), port: port)
        } else {
            warnings.append("KITE_STATSD_ADDRESS=\(address) is neither host:port nor unix:///path; StatsD is off")
            return nil
        }
        if let dialect = environment["KITE_STATSD_DIALECT"]?.trimmingOWS().lowercased(), !dialect.isEmpty {
            if let parsed = Dialect(rawValue: dialect) {
                configuration.dialect = parsed
            } else {
                warnings.append("KITE_STATSD_DIALECT=\(dialect) is not statsd or dogstatsd; using statsd")
            }
        }
        if let prefix = environment["KITE_STATSD_PREFIX"]?.trimmingOWS() { configuration.prefix = prefix }
        if let raw = environment["KITE_STATSD_FLUSH_INTERVAL"]?.trimmingOWS(), !raw.isEmpty {
            if let milliseconds = Int(raw), milliseconds > 0 {
                configuration.flushInterval = .milliseconds(milliseconds)
            } else {
                warnings.append("KITE_STATSD_FLUSH_INTERVAL=\(raw) is not a positive number of milliseconds; using 1000")
            }
        }
        if let raw = environment["KITE_STATSD_MAX_PACKET"]?.trimmingOWS(), !raw.isEmpty {
            if let size = Int(raw), size >= 64 {
                configuration.maxPacketSize = size
            } else {
                warnings.append("KITE_STATSD_MAX_PACKET=\(raw) is not a size of at least 64 bytes; using 1432")
            }
        }
        return configuration
    }
}
