import Instrumentation

/// W3C baggage: application-defined key/value pairs that travel with a request across services.
public struct Baggage: Sendable, Hashable {
    /// The entries in the order they arrived or were set.
    public private(set) var entries: [Entry]

    /// One baggage member. Properties (`;key=value` after the value) are kept verbatim.
    public struct Entry: Sendable, Hashable {
        /// The key (a token).
        public var key: String
        /// The value, percent-decoded.
        public var value: String
        /// Raw properties, without the leading `;`, or empty.
        public var properties: String

        /// Creates an entry.
        public init(key: String, value: String, properties: String = "") {
            self.key = key
            self.value = value
            self.properties = properties
        }
    }

    /// Empty baggage.
    public init() {
        self.entries = []
    }

    /// The value for `key`; setting `nil` removes it.
    public subscript(_ key: String) -> String? {
        get { self.entries.last { $0.key == key }?.value }
        set {
            self.entries.removeAll { $0.key == key }
            if let newValue { self.entries.append(Entry(key: key, value: newValue)) }
        }
    }

    /// Whether there are no entries.
    public var isEmpty: Bool { self.entries.isEmpty }

    mutating func append(_ entry: Entry) {
        self.entries.removeAll { $0.key == entry.key }
        self.entries.append(entry)
    }
}

/// The `ServiceContext` key of ``Baggage``.
public enum BaggageKey: ServiceContextKey {
    public typealias Value = Baggage
    public static var nameOverride: String? { "kite.baggage" }
}

extension ServiceContext {
    /// W3C baggage carried by this context.
    public var baggage: Baggage? {
        get { self[BaggageKey.self] }
        set { self[BaggageKey.self] = newValue }
    }
}
