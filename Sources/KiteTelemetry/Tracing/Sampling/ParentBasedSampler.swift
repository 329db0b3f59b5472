import W3CTraceContext
import Tracing

/// Follows the parent's decision when there is a parent, and asks `root` otherwise (`parentbased_*`).
public struct ParentBasedSampler: Sampler {
    /// Decides for spans without a parent.
    public let root: any Sampler
    /// For a sampled parent from another process. Default `always_on`.
    public let remoteParentSampled: any Sampler
    /// For an unsampled parent from another process. Default `always_off`.
    public let remoteParentNotSampled: any Sampler
    /// For a sampled parent in this process. Default `always_on`.
    public let localParentSampled: any Sampler
    /// For an unsampled parent in this process. Default `always_off`.
    public let localParentNotSampled: any Sampler

    /// Creates a parent-based sampler.
    public init(
        root: any Sampler,
        remoteParentSampled: any Sampler = ConstantSampler.alwaysOn,
        remoteParentNotSampled: any Sampler = ConstantSampler.alwaysOff,
        localParentSampled: any Sampler = ConstantSampler.alwaysOn,
        localParentNotSampled: any Sampler = ConstantSampler.alwaysOff
    ) {
        self.root = root
        self.remoteParentSampled = remoteParentSampled
        self.remoteParentNotSampled = remoteParentNotSampled
        self.localParentSampled = localParentSampled
        self.localParentNotSampled = localParentNotSampled
    }

    public func shouldSample(traceID: TraceID, parent: SpanContext?, name: String, kind: SpanKind) -> SamplingDecision {
        let delegate: any Sampler
        switch (parent?.isRemote, parent?.isSampled) {
        case (nil, _): delegate = self.root
        case (true, true): delegate = self.remoteParentSampled
        case (true, _): delegate = self.remoteParentNotSampled
        case (_, true): delegate = self.localParentSampled
        default: delegate = self.localParentNotSampled
        }
        return delegate.shouldSample(traceID: traceID, parent: parent, name: name, kind: kind)
    }

    public var description: String { "ParentBased{root:\(self.root.description)}" }

    public var dropsChildrenOfUnsampledParents: Bool {
        self.remoteParentNotSampled.dropsChildrenOfUnsampledParents
            && self.localParentNotSampled.dropsChildrenOfUnsampledParents
    }
}
