import Kite

/// What went wrong talking to etcd.
public enum EtcdError: ServiceError, CustomStringConvertible {
    /// No endpoint could be reached; the error of each, in the order tried.
    case unreachable([String])
    /// etcd refused the request: its gRPC code and message.
    case refused(code: Int, message: String)
    /// An answer that is not what the etcd v3 JSON gateway sends.
    case malformed(String)
    /// The watch's start revision has been compacted away: list again.
    case compacted(revision: Int64)
    /// The watch ended (the server closed it or cancelled it).
    case watchEnded

    public var code: ErrorCode {
        switch self {
        case .unreachable, .watchEnded: .unavailable
        case .refused(let code, _): ErrorCode(rawValue: code) ?? .unknown
        case .malformed: .internal
        case .compacted: .outOfRange
        }
    }

    public var isBusinessError: Bool { false }

    public var description: String {
        switch self {
        case .unreachable(let errors): "etcd unreachable: " + errors.joined(separator: "; ")
        case .refused(let code, let message): "etcd refused the request (code \(code)): \(message)"
        case .malformed(let what): "malformed answer from etcd: \(what)"
        case .compacted(let revision): "etcd compacted its history past the watch (compact revision \(revision))"
        case .watchEnded: "etcd ended the watch"
        }
    }
}
