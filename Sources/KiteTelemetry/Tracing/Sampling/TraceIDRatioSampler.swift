import W3CTraceContext
import Tracing

/// Samples a fixed fraction of traces, decided by the trace ID alone (`traceidratio`), so that
/// every process that sees a trace makes the same decision.
///
/// The lower 8 bytes of the trace ID, read big-endian and shifted right by one, are compared
/// with `ratio × 2⁶³` — the rule OpenTelemetry's Go and Java SDKs use.
public struct TraceIDRatioSampler: Sampler {
    /// The fraction sampled, clamped to 0…1.
    public let ratio: Double
    private let threshold: UInt64

    /// Creates a sampler for `ratio` (clamped to 0…1; NaN counts as 0).
    public init(ratio: Double) {
        let clamped = ratio.isNaN ? 0 : min(max(ratio, 0), 1)
        self.ratio = clamped
        self.threshold = clamped >= 1 ? .max : UInt64(clamped * 9_223_372_036_854_775_808.0)
    }

    public func shouldSample(traceID: TraceID, parent: SpanContext?, name: String, kind: SpanKind) -> SamplingDecision {
        if self.ratio >= 1 { return .recordAndSample }
        let bytes = traceID.bytes
        let low = withUnsafeBytes(of: bytes) { raw -> UInt64 in
            var value: UInt64 = 0
            for index in 8..<16 { value = value << 8 | UInt64(raw[index]) }
            return value
        }
        return low >> 1 < self.threshold ? .recordAndSample : .drop
    }

    public var description: String { "TraceIdRatioBased{\(self.ratio)}" }
}
