import Kite

/// What went wrong looking up SRV records.
public enum DNSError: ServiceError, CustomStringConvertible {
    /// No answer within the timeout, after every attempt.
    case timedOut(server: String)
    /// The answer is not a well-formed DNS message (lengths that lie, a compression loop, a name
    /// too long), or not the answer to the question asked.
    case malformed(String)
    /// The server answered with an error code (RCODE): 2 server failure, 3 no such name, 5 refused…
    case failed(rcode: Int, name: String)
    /// No resolver is configured and `/etc/resolv.conf` names none.
    case noResolver
    /// The socket could not be opened or used.
    case transport(String)

    public var code: ErrorCode {
        switch self {
        case .timedOut: .deadlineExceeded
        case .malformed: .internal
        case .failed(let rcode, _): rcode == 3 ? .notFound : .unavailable
        case .noResolver: .failedPrecondition
        case .transport: .unavailable
        }
    }

    public var isBusinessError: Bool { false }

    public var description: String {
        switch self {
        case .timedOut(let server): "no DNS answer from \(server)"
        case .malformed(let what): "malformed DNS answer: \(what)"
        case .failed(let rcode, let name):
            "DNS lookup of \(name) failed: \(Self.rcodeNames[rcode] ?? "RCODE \(rcode)")"
        case .noResolver: "no DNS resolver configured and none in /etc/resolv.conf"
        case .transport(let what): "DNS transport error: \(what)"
        }
    }

    private static let rcodeNames = [1: "format error", 2: "server failure", 3: "no such name", 4: "not implemented", 5: "refused"]
}
