/// The `Resource` and `InstrumentationScope` every OTLP request from this process carries,
/// encoded once.
///
/// The resource holds `service.name`, `telemetry.sdk.name` (`kite`), `telemetry.sdk.language`
/// (`swift`), `telemetry.sdk.version` and the configured resource attributes
/// (`OTEL_RESOURCE_ATTRIBUTES`, which may set `service.version`, `deployment.environment.name`,
/// …). The scope is `kite` with Kite's version.
public struct OTLPResource: Sendable {
    /// The attributes, sorted by key.
    public let attributes: [(key: String, value: String)]
    /// `ResourceX.resource` (field 1) and its `ScopeX.scope`, ready to copy into a request.
    let encodedResource: [UInt8]
    let encodedScope: [UInt8]

    /// Kite's version, as `telemetry.sdk.version` and the scope version.
    public static let kiteVersion = "0.3.0"

    /// Builds the resource of a service.
    /// - Parameters:
    ///   - serviceName: `service.name`.
    ///   - attributes: Further attributes; they cannot replace `service.name` or `telemetry.sdk.*`.
    public init(serviceName: String, attributes: [String: String] = [:]) {
        var merged = attributes.filter { !$0.key.hasPrefix("telemetry.sdk.") }
        merged["service.name"] = serviceName
        merged["telemetry.sdk.name"] = "kite"
        merged["telemetry.sdk.language"] = "swift"
        merged["telemetry.sdk.version"] = Self.kiteVersion
        let sorted = merged.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }
        self.attributes = sorted

        var writer = ProtobufWriter()
        writer.message(1, reserving: 2) { resource in
            for attribute in sorted {
                resource.keyValue(1, key: attribute.key, string: attribute.value)
            }
        }
        self.encodedResource = writer.bytes
        writer.reset()
        writer.message(1) { scope in
            scope.stringField(1, "kite")
            scope.stringField(2, Self.kiteVersion)
        }
        self.encodedScope = writer.bytes
    }
}

extension ProtobufWriter {
    /// The body of an export request (`ExportTraceServiceRequest`, `ExportMetricsServiceRequest`,
    /// `ExportLogsServiceRequest`): one `ResourceSpans`/`ResourceMetrics`/`ResourceLogs` (field 1)
    /// with `resource`, holding one `ScopeSpans`/`ScopeMetrics`/`ScopeLogs` (field 2) with its
    /// scope, whose items (field 2 of the scope message) `items` writes. The three signals share
    /// these field numbers.
    mutating func exportRequest(_ resource: OTLPResource, items: (inout ProtobufWriter) -> Void) {
        self.message(1, reserving: 3) { resourceItems in
            resourceItems.raw(resource.encodedResource)
            resourceItems.message(2, reserving: 3) { scopeItems in
                scopeItems.raw(resource.encodedScope)
                items(&scopeItems)
            }
        }
    }

    /// What ``exportRequest(_:items:)`` writes before the items, for items encoded beforehand
    /// (`itemsByteCount` bytes, appended after it): the same bytes, the two lengths written up
    /// front from the items' size instead of patched after them.
    mutating func exportRequestHead(_ resource: OTLPResource, itemsByteCount: Int) {
        let scopeItems = resource.encodedScope.count + itemsByteCount
        self.tag(1, .lengthDelimited)
        self.varint(UInt64(resource.encodedResource.count + 1 + Self.varintSize(UInt64(scopeItems)) + scopeItems))
        self.raw(resource.encodedResource)
        self.tag(2, .lengthDelimited)
        self.varint(UInt64(scopeItems))
        self.raw(resource.encodedScope)
    }
}
