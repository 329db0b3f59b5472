import Instrumentation
import W3CTraceContext

/// The W3C Trace Context headers `traceparent` and `tracestate`.
///
/// Level 1 of the specification, to the letter: ``W3CTraceParent`` says which `traceparent`s
/// continue a trace (future versions included), ``W3CTraceStateHeader`` which `tracestate`
/// members are kept (invalid ones dropped, 32 members and 512 characters at most). A
/// `tracestate` is read only next to a valid `traceparent`, and never affects it. Header names
/// are matched in any case and repeated `tracestate` fields are combined (the extractors do
/// both). Injection always writes version `00` in lower-case hex.
public struct W3CTraceContextPropagator: TracePropagator {
    /// Creates the propagator.
    public init() {}

    public func extract<Carrier, Extract: Extractor>(
        _ carrier: Carrier,
        into context: inout ServiceContext,
        using extractor: Extract
    ) where Extract.Carrier == Carrier {
        guard context.spanContext == nil,
              let traceParent = extractor.extract(key: "traceparent", from: carrier),
              let parsed = W3CTraceParent.parse(Substring(traceParent))
        else { return }
        let state = extractor.extract(key: "tracestate", from: carrier).map { W3CTraceStateHeader.parse(Substring($0)) }
        context.spanContext = SpanContext(
            traceID: parsed.traceID,
            spanID: parsed.spanID,
            // Only the sampled flag is defined; the others are sent as zero.
            flags: TraceFlags(rawValue: parsed.flags.rawValue & 0x01),
            traceState: state ?? TraceState(),
            isRemote: true
        )
    }

    public func inject<Carrier, Inject: Injector>(
        _ context: ServiceContext,
        into carrier: inout Carrier,
        using injector: Inject
    ) where Inject.Carrier == Carrier {
        guard let spanContext = context.spanContext else { return }
        var header = [UInt8]()
        header.reserveCapacity(55)
        header.append(contentsOf: "00-".utf8)
        Hex.append(spanContext.traceID, to: &header)
        header.append(UInt8(ascii: "-"))
        Hex.append(spanContext.spanID, to: &header)
        header.append(contentsOf: spanContext.isSampled ? "-01".utf8 : "-00".utf8)
        injector.inject(String(decoding: header, as: UTF8.self), forKey: "traceparent", into: &carrier)
        if spanContext.hasTraceState {
            injector.inject(spanContext.traceState.headerValue, forKey: "tracestate", into: &carrier)
        }
    }
}

extension String {
    /// Without leading and trailing spaces and tabs (HTTP's optional whitespace).
    func trimmingOWS() -> String {
        let trimmed = Substring(self).trimmingSpaces()
        return trimmed.count == self.count ? self : String(trimmed)
    }
}

extension TraceState {
    /// The `tracestate` header value: `vendor=value` members joined by commas.
    var headerValue: String {
        self.map { "\($0.vendor.rawValue)=\($0.value)" }.joined(separator: ",")
    }
}
