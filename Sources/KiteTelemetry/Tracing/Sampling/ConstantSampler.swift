import W3CTraceContext
import Tracing

/// Samples every span (`always_on`) or none (`always_off`).
public struct ConstantSampler: Sampler {
    /// The decision given to every span.
    public let decision: SamplingDecision

    /// `always_on`.
    public static let alwaysOn = ConstantSampler(decision: .recordAndSample)
    /// `always_off`.
    public static let alwaysOff = ConstantSampler(decision: .drop)

    public func shouldSample(traceID: TraceID, parent: SpanContext?, name: String, kind: SpanKind) -> SamplingDecision {
        self.decision
    }

    public var description: String { self.decision == .drop ? "AlwaysOffSampler" : "AlwaysOnSampler" }

    public var dropsChildrenOfUnsampledParents: Bool { self.decision == .drop }
}
