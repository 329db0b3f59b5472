/// What a NATS server says about itself in `INFO`, on connecting and whenever it changes.
public struct NATSServerInfo: Sendable, Hashable, Decodable {
    /// The server's unique id.
    public var serverID: String
    /// Its name.
    public var serverName: String?
    /// Its version (`2.9.10`).
    public var version: String
    /// The largest message it accepts, headers and payload together, in bytes.
    public var maxPayload: Int
    /// Whether it supports headers (`HPUB`/`HMSG`); Kite needs them.
    public var headers: Bool
    /// Whether it requires credentials.
    public var authRequired: Bool
    /// Whether it requires TLS (which Kite's client does not speak).
    public var tlsRequired: Bool
    /// Other servers of its cluster a client may connect to.
    public var connectURLs: [String]
    /// Whether it is in lame duck mode (about to shut down; clients should move on).
    public var lameDuckMode: Bool

    enum CodingKeys: String, CodingKey {
        case serverID = "server_id"
        case serverName = "server_name"
        case version
        case maxPayload = "max_payload"
        case headers
        case authRequired = "auth_required"
        case tlsRequired = "tls_required"
        case connectURLs = "connect_urls"
        case lameDuckMode = "ldm"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.serverID = try container.decode(String.self, forKey: .serverID)
        self.serverName = try container.decodeIfPresent(String.self, forKey: .serverName)
        self.version = try container.decodeIfPresent(String.self, forKey: .version) ?? ""
        self.maxPayload = try container.decodeIfPresent(Int.self, forKey: .maxPayload) ?? NATSServerInfo.defaultMaxPayload
        self.headers = try container.decodeIfPresent(Bool.self, forKey: .headers) ?? false
        self.authRequired = try container.decodeIfPresent(Bool.self, forKey: .authRequired) ?? false
        self.tlsRequired = try container.decodeIfPresent(Bool.self, forKey: .tlsRequired) ?? false
        self.connectURLs = try container.decodeIfPresent([String].self, forKey: .connectURLs) ?? []
        self.lameDuckMode = try container.decodeIfPresent(Bool.self, forKey: .lameDuckMode) ?? false
    }

    /// nats-server's default `max_payload`, 1 MiB: the limit Kite applies before it has heard
    /// from a server.
    public static let defaultMaxPayload = 1 << 20
}
