import Tracing

/// One span's identity as it lives on the heap: what the span's `ServiceContext` carries (under
/// ``SpanContextKey``) for children, log lines and outgoing requests.
///
/// ``KiteSpan`` is a small value that refers to a core; every copy of a span refers to the same
/// one. A span that records nothing — not sampled, or a span context extracted from an incoming
/// request — has a plain core: its IDs, kind and name, nothing to lock or to free but them. A span
/// that records has a ``RecordingSpanCore``, which adds the state it records and, once ended, is
/// the ``SpanRecord`` exporters read. The core does not refer to the context that holds it, so
/// nothing is kept alive in a cycle.
class SpanCore: @unchecked Sendable {
    // @unchecked: `name` changes only in a recording core, under its lock (see
    // `RecordingSpanCore`); everything else is immutable.

    let spanContext: SpanContext
    let kind: SpanKind
    /// Whether the trace is sampled (``SpanContext/isSampled``, read once).
    let isSampled: Bool
    /// Whether this core is a ``RecordingSpanCore``.
    let isRecording: Bool
    /// The operation name.
    @exclusivity(unchecked) var name: String

    init(name: String, kind: SpanKind, spanContext: SpanContext, isRecording: Bool) {
        self.spanContext = spanContext
        self.kind = kind
        self.isSampled = spanContext.isSampled
        self.isRecording = isRecording
        self.name = name
    }

    /// A core that only carries `spanContext` (extracted from a request, or set by hand).
    convenience init(carrying spanContext: SpanContext) {
        self.init(name: "", kind: .internal, spanContext: spanContext, isRecording: false)
    }

    /// This core as the recording one it is, or `nil` when it records nothing.
    @inline(__always)
    final var recording: RecordingSpanCore? {
        self.isRecording ? unsafeDowncast(self, to: RecordingSpanCore.self) : nil
    }
}
