import Kite

/// What went wrong talking to Consul.
public enum ConsulError: ServiceError, CustomStringConvertible {
    /// The agent could not be reached.
    case unreachable(String)
    /// The agent answered with an error status.
    case refused(status: Int, message: String)
    /// An answer that is not what Consul's API documents.
    case malformed(String)

    public var code: ErrorCode {
        switch self {
        case .unreachable: .unavailable
        case .refused(let status, _): status == 404 ? .notFound : ErrorCode(httpStatus: status)
        case .malformed: .internal
        }
    }

    public var isBusinessError: Bool { false }

    public var description: String {
        switch self {
        case .unreachable(let what): "Consul unreachable: \(what)"
        case .refused(let status, let message): "Consul refused the request (HTTP \(status)): \(message)"
        case .malformed(let what): "malformed answer from Consul: \(what)"
        }
    }
}
