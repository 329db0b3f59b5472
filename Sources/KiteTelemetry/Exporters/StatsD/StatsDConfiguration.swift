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

    /// Creates a configuration; the flush interval is at least 1 ms and the packet size within
    /// 64…``largestPacketSize``.
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
        self.flushInterval = max(flushInterval, .milliseconds(1))
        self.maxPacketSize = min(max(maxPacketSize, 64), Self.largestPacketSize)
    }

    /// The largest payload of one UDP datagram over IPv4 (65,535 − 8 bytes of UDP header − 20 of
    /// IP header); larger sizes cannot be sent.
    public static let largestPacketSize = 65_507

    /// The configuration the `KITE_STATSD_*` variables describe, `nil` when `KITE_STATSD_ADDRESS`
    /// is unset or unusable; problems are noted as warnings.
    static func fromEnvironment(_ reader: inout EnvironmentReader) -> StatsDConfiguration? {
        guard let address = reader.value("KITE_STATSD_ADDRESS") else { return nil }
        var configuration: StatsDConfiguration
        if address.hasPrefix("unix://"), address.count > "unix://".count {
            configuration = StatsDConfiguration(host: "", port: 0, unixSocketPath: String(address.dropFirst("unix://".count)))
        } else if let colon = address.lastIndex(of: ":"), colon != address.startIndex,
                  let port = Int(address[address.index(after: colon)...]), (1...65535).contains(port)
        {
            var host = address[..<colon]
            if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
            configuration = StatsDConfiguration(host: String(host), port: port)
        } else {
            reader.warn("KITE_STATSD_ADDRESS=\(address) is neither host:port (port 1…65535) nor unix:///path; StatsD is off")
            return nil
        }
        if let dialect = reader.value("KITE_STATSD_DIALECT") {
            if let parsed = Dialect(rawValue: dialect.lowercased()) {
                configuration.dialect = parsed
            } else {
                reader.reject("KITE_STATSD_DIALECT", dialect, expected: "statsd or dogstatsd", using: "statsd")
            }
        }
        if let prefix = reader.value("KITE_STATSD_PREFIX") { configuration.prefix = prefix }
        configuration.flushInterval = reader.milliseconds("KITE_STATSD_FLUSH_INTERVAL", default: configuration.flushInterval)
        configuration.maxPacketSize = reader.integer(
            "KITE_STATSD_MAX_PACKET",
            in: 64...Self.largestPacketSize,
            default: configuration.maxPacketSize
        )
        return configuration
    }
}
