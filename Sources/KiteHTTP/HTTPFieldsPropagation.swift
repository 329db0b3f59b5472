import HTTPTypes
import Instrumentation

/// Reads trace headers from swift-http-types' `HTTPFields`. Repeated fields are joined with
/// `, ` (so two `traceparent` fields make an invalid one and start a new trace).
public struct HTTPFieldsExtractor: Extractor {
    /// Creates the extractor.
    public init() {}

    public func extract(key: String, from fields: HTTPFields) -> String? {
        guard let name = HTTPField.Name(key) else { return nil }
        return fields[name]
    }
}

/// Writes trace headers into swift-http-types' `HTTPFields`, replacing earlier values.
public struct HTTPFieldsInjector: Injector {
    /// Creates the injector.
    public init() {}

    public func inject(_ value: String, forKey key: String, into fields: inout HTTPFields) {
        guard let name = HTTPField.Name(key) else { return }
        fields[name] = value
    }
}
