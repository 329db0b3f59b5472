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
    /// Whether this context was extracted from an incoming request rather than made in this process.
    public var isRemote: Bool
    /// `tracestate`, boxed, or `nil` when it has no entries. A `TraceState` is an ordered
    /// dictionary — three references to copy and release — and most traces carry none: a span
    /// context without one copies and frees as plain bytes and one empty reference.
    var traceStateBox: TraceStateBox?

    /// Vendor state carried in `tracestate`.
    public var traceState: TraceState {
        get { self.traceStateBox?.value ?? TraceState() }
        set { self.traceStateBox = newValue.isEmpty ? nil : TraceStateBox(value: newValue) }
    }

    /// Whether ``traceState`` has entries (without making an empty one).
    var hasTraceState: Bool { self.traceStateBox != nil }

    /// Creates a span context.
    public init(
        traceID: TraceID,
        spanID: SpanID,
        parentSpanID: SpanID? = nil,
        flags: TraceFlags,
        traceState: TraceState,
        isRemote: Bool = false
    ) {
        self.init(traceID: traceID, spanID: spanID, parentSpanID: parentSpanID, flags: flags, isRemote: isRemote)
        self.traceState = traceState
    }

    /// Creates a span context without trace state.
    public init(
        traceID: TraceID,
        spanID: SpanID,
        parentSpanID: SpanID? = nil,
        flags: TraceFlags,
        isRemote: Bool = false
    ) {
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.flags = flags
        self.isRemote = isRemote
        self.traceStateBox = nil
    }

    /// Whether the trace is sampled.
    public var isSampled: Bool { self.flags.contains(.sampled) }

    public static func == (lhs: SpanContext, rhs: SpanContext) -> Bool {
        lhs.traceID == rhs.traceID && lhs.spanID == rhs.spanID && lhs.parentSpanID == rhs.parentSpanID
            && lhs.flags == rhs.flags && lhs.isRemote == rhs.isRemote
            && (lhs.traceStateBox === rhs.traceStateBox || lhs.traceState == rhs.traceState)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.traceID)
        hasher.combine(self.spanID)
        hasher.combine(self.parentSpanID)
        hasher.combine(self.flags)
        hasher.combine(self.isRemote)
        hasher.combine(self.traceState)
    }

    /// A non-empty `TraceState`, shared by the span contexts of one trace.
    final class TraceStateBox: Sendable {
        let value: TraceState

        init(value: TraceState) {
            self.value = value
        }
    }
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
