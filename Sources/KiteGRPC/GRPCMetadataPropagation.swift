import GRPCCore
import Instrumentation

/// Reads trace headers from gRPC metadata. Keys are matched case-insensitively (gRPC keys are
/// lower case on the wire); repeated string values are joined with `,` as HTTP joins repeated
/// fields, so two `tracestate` entries combine.
public struct GRPCMetadataExtractor: Extractor {
    /// Creates the extractor.
    public init() {}

    public func extract(key: String, from metadata: Metadata) -> String? {
        // Propagators name their keys in lower case already: lowercasing allocates, so only when needed.
        let name = key.utf8.contains(where: { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }) ? key.lowercased() : key
        var joined: String?
        for value in metadata[stringValues: name] {
            joined = joined.map { $0 + "," + value } ?? value
        }
        return joined
    }
}

/// Writes trace headers into gRPC metadata (lower-case keys), replacing earlier values.
public struct GRPCMetadataInjector: Injector {
    /// Creates the injector.
    public init() {}

    public func inject(_ value: String, forKey key: String, into metadata: inout Metadata) {
        metadata.replaceOrAddString(value, forKey: key.lowercased())
    }
}
