import Kite

/// go-kit's classic example service: plain Swift, no Kite types.
public protocol StringService: Sendable {
    /// `s` in upper case.
    func uppercase(_ s: String) async throws -> String
    /// The number of characters in `s`.
    func count(_ s: String) async throws -> Int
}

/// The service's one error: a business error (`INVALID_ARGUMENT`, answered 400 over HTTP).
public enum StringServiceError: ServiceError, Equatable, CaseIterable, CustomStringConvertible {
    /// The input was empty.
    case emptyInput

    public var code: ErrorCode { .invalidArgument }

    public var description: String {
        switch self {
        case .emptyInput: "empty string"
        }
    }
}

/// The implementation.
public struct BasicStringService: StringService {
    public init() {}

    public func uppercase(_ s: String) async throws -> String {
        guard !s.isEmpty else { throw StringServiceError.emptyInput }
        return s.uppercased()
    }

    public func count(_ s: String) async throws -> Int {
        guard !s.isEmpty else { throw StringServiceError.emptyInput }
        return s.count
    }
}
