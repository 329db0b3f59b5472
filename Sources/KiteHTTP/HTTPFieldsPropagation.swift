import HTTPTypes
import Instrumentation

/// Reads trace headers from swift-http-types' `HTTPFields`. Repeated fields are joined with
/// `, ` (so two `traceparent` fields make an invalid one and start a new trace).
public struct HTTPFieldsExtractor: Extractor {
    /// Creates the extractor.
    public init() {}

    public func extract(key: String, from fields: HTTPFields) -> String? {
        guard let name = HTTPField.Name.propagationName(key) else { return nil }
        return fields.value(of: name)
    }
}

/// Writes trace headers into swift-http-types' `HTTPFields`, replacing earlier values.
public struct HTTPFieldsInjector: Injector {
    /// Creates the injector.
    public init() {}

    public func inject(_ value: String, forKey key: String, into fields: inout HTTPFields) {
        guard let name = HTTPField.Name.propagationName(key) else { return }
        fields[name] = value
    }
}

extension HTTPField.Name {
    static let traceparent = HTTPField.Name("traceparent")
    static let tracestate = HTTPField.Name("tracestate")
    static let baggage = HTTPField.Name("baggage")

    /// The field name of a propagation key: the W3C ones made once, not checked and lowercased
    /// again for every request.
    static func propagationName(_ key: String) -> HTTPField.Name? {
        switch key {
        case "traceparent": self.traceparent
        case "tracestate": self.tracestate
        case "baggage": self.baggage
        default: HTTPField.Name(key)
        }
    }
}
