import Kite

/// Thrift's `TApplicationException`: a call that failed for a reason the service's IDL does not
/// declare — an unknown method, a malformed message, a failure of the handler.
///
/// Kite's responders answer every error that is not a declared exception with one, its message
/// `<CODE>: <description>` (`UNAVAILABLE: injected failure`) so that a Kite caller gets Kite's
/// error code back (as a ``RemoteError``) while any other Thrift client reads a plain message.
public struct ThriftApplicationError: ServiceError, Hashable, Codable, CustomStringConvertible {
    /// `TApplicationException`'s types.
    public enum Kind: Int32, ThriftEnum, Hashable {
        case unknown = 0
        case unknownMethod = 1
        case invalidMessageType = 2
        case wrongMethodName = 3
        case badSequenceID = 4
        case missingResult = 5
        case internalError = 6
        case protocolError = 7
        case invalidTransform = 8
        case invalidProtocol = 9
        case unsupportedClientType = 10
    }

    /// The message (field 1).
    public var message: String
    /// The type (field 2).
    public var kind: Kind

    enum CodingKeys: Int, CodingKey {
        case message = 1
        case kind = 2
    }

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.message = try container.decodeIfPresent(String.self, forKey: .message) ?? ""
        // A type this library does not know is still an application error.
        let raw = try container.decodeIfPresent(Int32.self, forKey: .kind) ?? 0
        self.kind = Kind(rawValue: raw) ?? .unknown
    }

    public var code: ErrorCode {
        switch self.kind {
        case .unknownMethod, .wrongMethodName: .unimplemented
        case .protocolError, .invalidProtocol, .invalidMessageType, .invalidTransform, .unsupportedClientType: .invalidArgument
        case .unknown: .unknown
        case .badSequenceID, .missingResult, .internalError: .internal
        }
    }

    public var isBusinessError: Bool { false }

    public var description: String { "TApplicationException(\(self.kind)): \(self.message)" }

    /// How a responder answers `error`: ``ThriftProtocolError``s and decoding errors as protocol
    /// errors, anything else as an internal error whose message carries Kite's code.
    static func answering(_ error: any Error) -> ThriftApplicationError {
        switch error {
        case let error as ThriftApplicationError:
            return error
        case let error as ThriftProtocolError:
            return ThriftApplicationError(.protocolError, "\(ErrorCode.invalidArgument.name): \(error.message)")
        case let error as DecodingError:
            return ThriftApplicationError(.protocolError, "\(ErrorCode.invalidArgument.name): \(ThriftCallCoding.describe(error))")
        default:
            let code = CallOutcome.code(of: error)
            // A remote error (passed on from a service this one called) says its code once.
            let message = (error as? RemoteError)?.message ?? "\(error)"
            return ThriftApplicationError(code == .unimplemented ? .unknownMethod : .internalError, "\(code.name): \(message)")
        }
    }

    /// The error a caller gets: a ``RemoteError`` with the code from the message's prefix (a
    /// Kite responder's), or from the type.
    var remoteError: RemoteError {
        if let colon = self.message.firstIndex(of: ":"), let code = ErrorCode(name: String(self.message[..<colon])) {
            let rest = self.message[self.message.index(after: colon)...].drop { $0 == " " }
            return RemoteError(code: code, message: String(rest))
        }
        return RemoteError(code: self.code, message: self.message.isEmpty ? "\(self.kind)" : self.message)
    }
}
