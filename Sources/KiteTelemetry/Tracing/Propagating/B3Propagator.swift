import Instrumentation
import W3CTraceContext

/// Zipkin's B3 headers: the single `b3` header or the `X-B3-*` headers.
///
/// Both forms are read on extraction (the single header first); ``Encoding`` chooses what is
/// written. Trace IDs of 64 bits are widened to 128 bits with leading zeros. The debug flag
/// (`d`, `X-B3-Flags: 1`) counts as sampled. When no sampling state is sent the context is taken
/// as unsampled, so a parent-based sampler drops it. A `b3` header that holds only a sampling
/// state carries no trace context and is ignored. Anything malformed is ignored.
public struct B3Propagator: TracePropagator {
    /// Which headers ``inject(_:into:using:)`` writes.
    public enum Encoding: Sendable {
        /// `b3: {trace}-{span}-{sampled}`.
        case single
        /// `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-Sampled`.
        case multiple
    }

    /// What is written.
    public let encoding: Encoding

    /// Creates the propagator.
    public init(encoding: Encoding = .single) {
        self.encoding = encoding
    }

    public func extract<Carrier, Extract: Extractor>(
        _ carrier: Carrier,
        into context: inout ServiceContext,
        using extractor: Extract
    ) where Extract.Carrier == Carrier {
        guard context.spanContext == nil else { return }
        if let single = extractor.extract(key: "b3", from: carrier) {
            if let spanContext = Self.parseSingle(single) { context.spanContext = spanContext }
            return
        }
        guard let traceID = extractor.extract(key: "X-B3-TraceId", from: carrier).flatMap(Self.parseTraceID),
              let spanID = extractor.extract(key: "X-B3-SpanId", from: carrier).flatMap(Self.parseSpanID)
        else { return }
        let sampled = extractor.extract(key: "X-B3-Sampled", from: carrier)?.trimmingOWS().lowercased()
        let debug = extractor.extract(key: "X-B3-Flags", from: carrier)?.trimmingOWS() == "1"
        let isSampled = debug || sampled == "1" || sampled == "true"
        context.spanContext = SpanContext(
            traceID: traceID,
            spanID: spanID,
            flags: isSampled ? .sampled : [],
            isRemote: true
        )
    }

    public func inject<Carrier, Inject: Injector>(
        _ context: ServiceContext,
        into carrier: inout Carrier,
        using injector: Inject
    ) where Inject.Carrier == Carrier {
        guard let spanContext = context.spanContext else { return }
        let traceID = spanContext.traceID.description
        let spanID = spanContext.spanID.description
        let sampled = spanContext.isSampled ? "1" : "0"
        switch self.encoding {
        case .single:
            injector.inject("\(traceID)-\(spanID)-\(sampled)", forKey: "b3", into: &carrier)
        case .multiple:
            injector.inject(traceID, forKey: "X-B3-TraceId", into: &carrier)
            injector.inject(spanID, forKey: "X-B3-SpanId", into: &carrier)
            injector.inject(sampled, forKey: "X-B3-Sampled", into: &carrier)
        }
    }

    /// Parses `{trace}-{span}[-{sampling}[-{parent}]]`.
    static func parseSingle(_ header: String) -> SpanContext? {
        let parts = header.trimmingOWS().split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 2, parts.count <= 4,
              let traceID = parseTraceID(parts[0]),
              let spanID = parseSpanID(parts[1])
        else { return nil }
        var sampled = false
        if parts.count >= 3 {
            switch parts[2] {
            case "1", "d": sampled = true
            case "0": sampled = false
            default: return nil
            }
        }
        if parts.count == 4, parseSpanID(parts[3]) == nil { return nil }
        return SpanContext(traceID: traceID, spanID: spanID, flags: sampled ? .sampled : [], isRemote: true)
    }

    static func parseTraceID(_ text: some StringProtocol) -> TraceID? {
        let utf8 = Substring(text).trimmingSpaces().utf8
        let bytes: [UInt8]
        switch utf8.count {
        case 32: guard let decoded = Hex.decode(utf8, count: 16) else { return nil }; bytes = decoded
        case 16: guard let decoded = Hex.decode(utf8, count: 8) else { return nil }; bytes = Array(repeating: 0, count: 8) + decoded
        default: return nil
        }
        guard bytes.contains(where: { $0 != 0 }) else { return nil }
        let id = TraceID(bytes: (
            bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
            bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
        ))
        return id
    }

    static func parseSpanID(_ text: some StringProtocol) -> SpanID? {
        guard let bytes = Hex.decode(Substring(text).trimmingSpaces().utf8, count: 8),
              bytes.contains(where: { $0 != 0 })
        else { return nil }
        return SpanID(bytes: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]))
    }
}
