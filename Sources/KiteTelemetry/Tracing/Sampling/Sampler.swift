import W3CTraceContext
import Tracing

/// Decides, when a span starts, whether it is recorded and exported.
///
/// The samplers of the OpenTelemetry specification are provided: ``ConstantSampler`` (`always_on`,
/// `always_off`), ``TraceIDRatioSampler`` (`traceidratio`) and ``ParentBasedSampler``
/// (`parentbased_*`). ``Sampler/fromEnvironment(_:)`` reads `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`.
public protocol Sampler: Sendable {
    /// The decision for a new span.
    /// - Parameters:
    ///   - traceID: The trace the span belongs to (its parent's, or a new one for a root).
    ///   - parent: The parent span's context, if any.
    ///   - name: The operation name.
    ///   - kind: The span kind.
    func shouldSample(traceID: TraceID, parent: SpanContext?, name: String, kind: SpanKind) -> SamplingDecision

    /// How the sampler is described in configuration dumps.
    var description: String { get }

    /// Whether every span whose parent is not sampled (local or remote) is dropped, whatever its
    /// name or kind: the tracer then skips asking for those spans. Default `false` (always ask).
    var dropsChildrenOfUnsampledParents: Bool { get }
}

extension Sampler {
    public var dropsChildrenOfUnsampledParents: Bool { false }
}

/// What a sampler decided.
public enum SamplingDecision: Sendable, Hashable {
    /// Not recorded, not exported; the context still propagates (unsampled).
    case drop
    /// Recorded in this process but not exported and not marked sampled.
    case recordOnly
    /// Recorded, exported and marked sampled.
    case recordAndSample
}
