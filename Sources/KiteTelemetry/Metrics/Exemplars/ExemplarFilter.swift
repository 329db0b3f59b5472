/// Which histogram observations leave an exemplar: OpenTelemetry's exemplar filter, read from
/// `OTEL_METRICS_EXEMPLAR_FILTER`.
public enum ExemplarFilter: String, Sendable, Hashable, CaseIterable {
    /// Observations made inside a sampled span (the default): the exemplar links the bucket to
    /// that span's trace.
    case traceBased = "trace_based"
    /// Every observation; those outside a sampled span leave an exemplar without a trace.
    case alwaysOn = "always_on"
    /// None: histograms keep no exemplar storage at all.
    case alwaysOff = "always_off"
}
