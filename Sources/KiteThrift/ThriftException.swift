/// An exception a Thrift service declares (`exception NotFound { 1: string what }` and
/// `throws (1: NotFound notFound)`): a Swift error that is also a `Codable` struct with field ids.
///
/// Conform it to ``Kite/ServiceError`` as well to say what kind of error it is (a declared
/// exception is usually an answer about the request: a business error).
public protocol ThriftException: Error, Codable, Sendable {}

/// The exceptions one method declares, each with its field id in the method's result.
public struct ThriftExceptions: Sendable {
    struct Declared: Sendable {
        let id: Int16
        let type: any ThriftException.Type
    }

    let declared: [Declared]

    /// None.
    public static let none = ThriftExceptions(declared: [])

    private init(declared: [Declared]) {
        self.declared = declared
    }

    /// These exceptions: `[1: NotFound.self, 2: Invalid.self]` — the ids of the IDL's `throws (…)`.
    public init(_ exceptions: KeyValuePairs<Int16, any ThriftException.Type>) {
        self.declared = exceptions.map { Declared(id: $0.key, type: $0.value) }
    }

    /// The declared exception `error` is, with its field id.
    func field(for error: any Error) -> (Int16, any ThriftException)? {
        guard let exception = error as? any ThriftException else { return nil }
        let type = ObjectIdentifier(Swift.type(of: exception))
        return self.declared.first { ObjectIdentifier($0.type) == type }.map { ($0.id, exception) }
    }

    /// The type declared under field `id`.
    func type(for id: Int16) -> (any ThriftException.Type)? {
        self.declared.first { $0.id == id }?.type
    }
}

/// The result of a method that returns nothing (`void`).
public struct ThriftVoid: Codable, Sendable, Hashable {
    public init() {}
    public init(from decoder: any Decoder) throws {}
    public func encode(to encoder: any Encoder) throws {}
}
