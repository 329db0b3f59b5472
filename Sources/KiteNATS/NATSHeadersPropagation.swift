import Instrumentation

/// Reads trace headers (`traceparent`, `tracestate`, `baggage`, B3) from NATS message headers,
/// names matched without regard to case; repeated values are joined with `,`.
public struct NATSHeadersExtractor: Extractor {
    /// Creates the extractor.
    public init() {}

    public func extract(key: String, from headers: NATSHeaders) -> String? {
        let values = headers.values(for: key)
        return values.isEmpty ? nil : values.joined(separator: ",")
    }
}

/// Writes trace headers into NATS message headers, replacing earlier values.
public struct NATSHeadersInjector: Injector {
    /// Creates the injector.
    public init() {}

    public func inject(_ value: String, forKey key: String, into headers: inout NATSHeaders) {
        headers[key] = value
    }
}
