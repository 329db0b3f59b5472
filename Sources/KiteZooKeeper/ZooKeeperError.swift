import Kite

/// What went wrong talking to ZooKeeper: a server's error code (`KeeperException.Code`), or the
/// client's own.
public enum ZooKeeperError: ServiceError, Equatable, CustomStringConvertible {
    /// The server answered with an error code: -101 no node, -110 node exists, -111 not empty,
    /// -112 session expired, …
    case server(code: Int32, path: String)
    /// The connection to the server is down (the request may or may not have been applied).
    case connectionLoss
    /// The session expired: its ephemeral nodes and watches are gone.
    case sessionExpired
    /// A frame or message that does not follow ZooKeeper's wire format.
    case malformed(String)
    /// The client is closed.
    case closed

    public static let noNode: Int32 = -101
    public static let nodeExists: Int32 = -110
    public static let notEmpty: Int32 = -111
    public static let sessionExpiredCode: Int32 = -112

    public var code: ErrorCode {
        switch self {
        case .server(let code, _):
            switch code {
            case Self.noNode: .notFound
            case Self.nodeExists: .alreadyExists
            case Self.notEmpty: .failedPrecondition
            default: .unavailable
            }
        case .connectionLoss, .sessionExpired, .closed: .unavailable
        case .malformed: .internal
        }
    }

    public var isBusinessError: Bool { false }

    public var description: String {
        switch self {
        case .server(let code, let path): "ZooKeeper error \(code) (\(Self.names[code] ?? "see KeeperException.Code")) on \(path)"
        case .connectionLoss: "connection to ZooKeeper lost"
        case .sessionExpired: "ZooKeeper session expired"
        case .malformed(let what): "malformed ZooKeeper message: \(what)"
        case .closed: "ZooKeeper client closed"
        }
    }

    private static let names: [Int32: String] = [
        -4: "connection loss", -101: "no node", -102: "no auth", -103: "bad version", -108: "no children for ephemerals",
        -110: "node exists", -111: "not empty", -112: "session expired", -113: "invalid callback", -114: "invalid ACL",
        -115: "auth failed", -118: "session moved",
    ]
}
