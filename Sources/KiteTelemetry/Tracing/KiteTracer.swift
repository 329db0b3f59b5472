import Instrumentation
import Tracing
import W3CTraceContext

/// Kite's swift-distributed-tracing `Tracer`.
///
/// A span's parent is the span context in the `ServiceContext` it starts in (the task's current
/// one by default); without one, a new trace starts. The ``sampler`` decides per span; sampled
/// spans go to the ``processor`` when they end. Trace context crosses process boundaries through
/// the configured ``propagators`` (``inject(_:into:using:)`` and ``extract(_:into:using:)``).
public final class KiteTracer: Tracer {
    public typealias Span = KiteSpan

    /// Decides which spans are recorded.
    public let sampler: any Sampler
    /// Receives ended, sampled spans; `nil` when nothing exports them, which makes every span
    /// non-recording (sampling decisions still propagate).
    public let processor: (any SpanProcessor)?
    /// Read and written, in order, when context crosses a process boundary.
    public let propagators: [any TracePropagator]
    /// Bounds on what one span keeps.
    public let limits: SpanLimits
    private let ids: IDGenerator
    /// The sampler's ``Sampler/dropsChildrenOfUnsampledParents``, read once.
    private let dropsChildrenOfUnsampledParents: Bool

    /// Creates a tracer.
    /// - Parameters:
    ///   - sampler: Default `parentbased_always_on`.
    ///   - processor: Where ended spans go; `nil` to record nothing.
    ///   - propagators: Default W3C trace context, then W3C baggage.
    ///   - limits: Span limits.
    public init(
        sampler: any Sampler = ParentBasedSampler(root: ConstantSampler.alwaysOn),
        processor: (any SpanProcessor)?,
        propagators: [any TracePropagator] = [W3CTraceContextPropagator(), W3CBaggagePropagator()],
        limits: SpanLimits = SpanLimits()
    ) {
        self.sampler = sampler
        self.processor = processor
        self.propagators = propagators
        self.limits = limits
        self.ids = IDGenerator()
        self.dropsChildrenOfUnsampledParents = sampler.dropsChildrenOfUnsampledParents
    }

    public func startSpan<Instant: TracerInstant>(
        _ operationName: String,
        context: @autoclosure () -> ServiceContext,
        ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant,
        function: String,
        file fileID: String,
        line: UInt
    ) -> KiteSpan {
        let context = context()
        let parentCore = context[SpanContextKey.self]
        // Inside a trace nobody records, a span that records nothing needs no identity of its
        // own: it keeps its parent's context, so children and outgoing requests carry the same
        // unsampled trace, and nothing is allocated. A sampler that drops all such spans is not
        // even asked.
        if let parentCore, !parentCore.isSampled, self.dropsChildrenOfUnsampledParents {
            return KiteSpan(name: operationName, inheriting: context, parent: parentCore)
        }
        // The parent's context read once, without optionals in between (the generic `??` and
        // optional chaining cost copies of the whole context through its value witnesses).
        let decision: SamplingDecision
        let spanContext: SpanContext
        if let parentCore {
            let parent = parentCore.spanContext
            decision = self.sampler.shouldSample(traceID: parent.traceID, parent: parent, name: operationName, kind: kind)
            if decision == .drop, !parentCore.isSampled {
                return KiteSpan(name: operationName, inheriting: context, parent: parentCore)
            }
            var child = SpanContext(
                traceID: parent.traceID,
                spanID: self.ids.spanID(),
                parentSpanID: parent.spanID,
                flags: decision == .recordAndSample ? .sampled : []
            )
            child.traceStateBox = parent.traceStateBox
            spanContext = child
        } else {
            let traceID = self.ids.traceID()
            decision = self.sampler.shouldSample(traceID: traceID, parent: nil, name: operationName, kind: kind)
            spanContext = SpanContext(
                traceID: traceID,
                spanID: self.ids.spanID(),
                flags: decision == .recordAndSample ? .sampled : []
            )
        }
        // A span that records nothing gets a core with its identity alone (and no timestamps).
        guard decision != .drop, let processor = self.processor else {
            return KiteSpan(
                parentContext: context,
                core: SpanCore(name: operationName, kind: kind, spanContext: spanContext, isRecording: false)
            )
        }
        let core = RecordingSpanCore(
            name: operationName,
            kind: kind,
            spanContext: spanContext,
            startNanoseconds: instant().nanosecondsSinceEpoch,
            processor: processor,
            limits: self.limits
        )
        return KiteSpan(parentContext: context, core: core)
    }

    /// Starts a span now: `Tracer`'s `startSpan(_:context:ofKind:)` for a caller that holds a
    /// `KiteTracer`, without the protocol extension's generic, out-of-module path (what Kite's own
    /// instrumentation calls once per request).
    public func startSpan(
        _ operationName: String,
        context: @autoclosure () -> ServiceContext,
        ofKind kind: SpanKind = .internal,
        function: String = #function,
        file fileID: String = #fileID,
        line: UInt = #line
    ) -> KiteSpan {
        self.startSpan(
            operationName,
            context: context(),
            ofKind: kind,
            at: DefaultTracerClock.now,
            function: function,
            file: fileID,
            line: line
        )
    }

    /// Starts a span at the wall-clock time of a reading of ``MonotonicClock`` — for
    /// instrumentation that times the call on the monotonic clock already (the endpoint
    /// decorator): one clock read per call instead of two.
    package func startSpan(
        _ operationName: String,
        context: @autoclosure () -> ServiceContext,
        ofKind kind: SpanKind,
        atMonotonic monotonic: Int64
    ) -> KiteSpan {
        // `at` is an autoclosure: a span that does not record never converts the time.
        self.startSpan(
            operationName, context: context(), ofKind: kind,
            at: DefaultTracerClock.Timestamp(nanosecondsSinceEpoch: MonotonicClock.wallNanoseconds(at: monotonic)),
            function: #function, file: #fileID, line: #line
        )
    }

    /// The span identified by `context` while it records and has not ended: what a middleware
    /// running inside a call (a circuit breaker, a retry) uses to add an event to the call's span.
    /// The span returned has `context` as its context.
    public func activeSpan(identifiedBy context: ServiceContext) -> KiteSpan? {
        guard let core = context[SpanContextKey.self]?.recording, !core.hasEnded else { return nil }
        return KiteSpan(parentContext: context, core: core)
    }

    /// Asks the processor to export what it holds, without waiting.
    public func forceFlush() {
        guard let processor = self.processor else { return }
        Task { await processor.forceFlush() }
    }

    public func extract<Carrier, Extract: Extractor>(
        _ carrier: Carrier,
        into context: inout ServiceContext,
        using extractor: Extract
    ) where Extract.Carrier == Carrier {
        for propagator in self.propagators {
            propagator.extract(carrier, into: &context, using: extractor)
        }
    }

    public func inject<Carrier, Inject: Injector>(
        _ context: ServiceContext,
        into carrier: inout Carrier,
        using injector: Inject
    ) where Inject.Carrier == Carrier {
        for propagator in self.propagators {
            propagator.inject(context, into: &carrier, using: injector)
        }
    }
}
