import Instrumentation
import W3CTraceContext

/// The identity of a span as it travels in a `ServiceContext`: what children, log lines and
/// outgoing requests need to know about it.
public struct SpanContext: Sendable, Hashable {
    /// The trace the span belongs to.
    public var traceID: TraceID
    /// The span's own ID.
    public var spanID: SpanID
    /// The parent span's ID, if any.
    public var parentSpanID: SpanID?
    /// W3C trace flags (bit 0: sampled).
    public var flags: TraceFlags
    /// Vendor state carried in `tracestate`.
    public var traceState: TraceState
    /// Whether this context was extracted from an incoming request rather than made in this process.
    public var isRemote: Bool

    /// Creates a span context.
    public init(
        traceID: TraceID,
        spanID: SpanID,
        parentSpanID: SpanID? = nil,
        flags: TraceFlags,
        traceState: TraceState = TraceState(),
        isRemote: Bool = false
    ) {
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.flags = flags
        self.traceState = traceState
        self.isRemote = isRemote
    }

    /// Whether the trace is sampled.
    public var isSampled: Bool { self.flags.contains(.sampled) }
}

/// The `ServiceContext` key under which Kite keeps the current span: its ``SpanCore``, which holds
/// the ``SpanContext``.
///
/// A `ServiceContext` stores its values as existentials, and a class reference fits in one inline,
/// so reading it back is a cheap cast instead of unboxing a heap-allocated copy of the whole struct.
enum SpanContextKey: ServiceContextKey {
    typealias Value = SpanCore
    static var nameOverride: String? { "kite.span-context" }
}

extension ServiceContext {
    /// The span context Kite's tracer (or a propagator) put here.
    public var spanContext: SpanContext? {
        get { self[SpanContextKey.self]?.spanContext }
        set { self[SpanContextKey.self] = newValue.map(SpanCore.init(carrying:)) }
    }
}
