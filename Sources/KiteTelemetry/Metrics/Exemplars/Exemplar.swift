import W3CTraceContext

/// One observation kept as an example of its histogram bucket: its value, when it was made, and
/// the span it was made in — the link from a latency bucket to a trace behind it.
public struct Exemplar: Sendable, Hashable {
    /// The trace of the span the observation was made in; `nil` outside a sampled span (with
    /// ``ExemplarFilter/alwaysOn``).
    public var traceID: TraceID?
    /// The span the observation was made in.
    public var spanID: SpanID?
    /// The value observed.
    public var value: Double
    /// When it was observed, in nanoseconds since the Unix epoch (to a few milliseconds).
    public var timeUnixNano: UInt64

    /// Creates an exemplar.
    public init(traceID: TraceID?, spanID: SpanID?, value: Double, timeUnixNano: UInt64) {
        self.traceID = traceID
        self.spanID = spanID
        self.value = value
        self.timeUnixNano = timeUnixNano
    }
}
