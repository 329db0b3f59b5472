import Instrumentation
import W3CTraceContext

/// The W3C Trace Context headers `traceparent` and `tracestate`.
///
/// Parsing is done by swift-w3c-trace-context: a `traceparent` of the wrong length, with bad hex,
/// all-zero IDs or an unsupported version (such as `ff`) is ignored. A malformed `tracestate`
/// next to a valid `traceparent` is dropped and the `traceparent` kept, as the specification asks.
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
              let parsed = try? TraceContext(traceParentHeaderValue: traceParent.trimmingOWS())
        else { return }
        var state = TraceState()
        if let traceState = extractor.extract(key: "tracestate", from: carrier),
           let withState = try? TraceContext(
               traceParentHeaderValue: traceParent.trimmingOWS(),
               traceStateHeaderValue: traceState
           )
        {
            state = withState.state
        }
        context.spanContext = SpanContext(
            traceID: parsed.traceID,
            spanID: parsed.spanID,
            flags: parsed.flags,
            traceState: state,
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
        if !spanContext.traceState.isEmpty {
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
