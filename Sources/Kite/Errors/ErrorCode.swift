/// The canonical status codes of a call — gRPC's codes, which Google's APIs, OpenTelemetry and
/// most RPC systems share — and the HTTP status each one is answered with.
///
/// A transport carries the code across the wire (the gRPC status, or the HTTP status plus the
/// `code` field of Kite's JSON error body), so the caller gets back the code the service chose.
public enum ErrorCode: Int, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Not an error.
    case ok = 0
    /// The caller cancelled the call.
    case cancelled = 1
    /// An error nothing more is known about.
    case unknown = 2
    /// The request is invalid whatever the state of the system (malformed, a bad value).
    case invalidArgument = 3
    /// The call did not finish before its deadline.
    case deadlineExceeded = 4
    /// What the request names does not exist.
    case notFound = 5
    /// What the request would create exists already.
    case alreadyExists = 6
    /// The caller may not do this.
    case permissionDenied = 7
    /// A quota or a limit was reached (rate limited, overloaded, out of space).
    case resourceExhausted = 8
    /// The system is not in the state the request needs.
    case failedPrecondition = 9
    /// The call was aborted, usually by a concurrency conflict; retry at a higher level.
    case aborted = 10
    /// A value is outside the range the operation accepts (an overflow, a size past a limit).
    case outOfRange = 11
    /// The method is not implemented or not served.
    case unimplemented = 12
    /// An invariant of the system is broken: a bug.
    case `internal` = 13
    /// The service cannot answer now; a retry may succeed.
    case unavailable = 14
    /// Data was lost or corrupted.
    case dataLoss = 15
    /// The caller did not say who it is.
    case unauthenticated = 16

    /// The name gRPC and Kite's JSON error bodies use: `INVALID_ARGUMENT`, `OUT_OF_RANGE`…
    public var name: String {
        switch self {
        case .ok: "OK"
        case .cancelled: "CANCELLED"
        case .unknown: "UNKNOWN"
        case .invalidArgument: "INVALID_ARGUMENT"
        case .deadlineExceeded: "DEADLINE_EXCEEDED"
        case .notFound: "NOT_FOUND"
        case .alreadyExists: "ALREADY_EXISTS"
        case .permissionDenied: "PERMISSION_DENIED"
        case .resourceExhausted: "RESOURCE_EXHAUSTED"
        case .failedPrecondition: "FAILED_PRECONDITION"
        case .aborted: "ABORTED"
        case .outOfRange: "OUT_OF_RANGE"
        case .unimplemented: "UNIMPLEMENTED"
        case .internal: "INTERNAL"
        case .unavailable: "UNAVAILABLE"
        case .dataLoss: "DATA_LOSS"
        case .unauthenticated: "UNAUTHENTICATED"
        }
    }

    public var description: String { self.name }

    /// The code named `name` (`OUT_OF_RANGE`), or `nil`.
    public init?(name: String) {
        guard let code = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = code
    }

    /// The HTTP status an error with this code is answered with (the mapping of Google's API
    /// design guide): 400 for `INVALID_ARGUMENT`, `FAILED_PRECONDITION` and `OUT_OF_RANGE`, 404,
    /// 409, 403, 401, 429, 499, 501, 503, 504, and 500 for the rest.
    public var httpStatus: Int {
        switch self {
        case .ok: 200
        case .cancelled: 499
        case .invalidArgument, .failedPrecondition, .outOfRange: 400
        case .unauthenticated: 401
        case .permissionDenied: 403
        case .notFound: 404
        case .alreadyExists, .aborted: 409
        case .resourceExhausted: 429
        case .unimplemented: 501
        case .unavailable: 503
        case .deadlineExceeded: 504
        case .unknown, .internal, .dataLoss: 500
        }
    }

    /// The code for an HTTP status when the answer carries no code of its own (a proxy's error
    /// page, a server that is not Kite's): the inverse of ``httpStatus``, with any other 4xx
    /// `FAILED_PRECONDITION`, any other 5xx `INTERNAL`, anything else `UNKNOWN`.
    public init(httpStatus: Int) {
        switch httpStatus {
        case 200..<300: self = .ok
        case 400: self = .invalidArgument
        case 401: self = .unauthenticated
        case 403: self = .permissionDenied
        case 404: self = .notFound
        case 408: self = .deadlineExceeded
        case 409: self = .aborted
        case 429: self = .resourceExhausted
        case 499: self = .cancelled
        case 501: self = .unimplemented
        case 502, 503: self = .unavailable
        case 504: self = .deadlineExceeded
        case 400..<500: self = .failedPrecondition
        case 500..<600: self = .internal
        default: self = .unknown
        }
    }

    /// Whether an error with this code is, unless it says otherwise, a business error: an answer
    /// about the request (`INVALID_ARGUMENT`, `NOT_FOUND`, `ALREADY_EXISTS`, `PERMISSION_DENIED`,
    /// `UNAUTHENTICATED`, `FAILED_PRECONDITION`, `OUT_OF_RANGE`) rather than a failure of the call.
    public var isBusinessByDefault: Bool {
        switch self {
        case .invalidArgument, .notFound, .alreadyExists, .permissionDenied, .unauthenticated,
            .failedPrecondition, .outOfRange:
            true
        case .ok, .cancelled, .unknown, .deadlineExceeded, .resourceExhausted, .aborted, .unimplemented,
            .internal, .unavailable, .dataLoss:
            false
        }
    }
}
