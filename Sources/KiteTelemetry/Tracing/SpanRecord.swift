import Tracing

/// A finished span, as exporters receive it.
public struct SpanRecord: Sendable {
    /// The operation name.
    public var name: String
    /// The span kind.
    public var kind: SpanKind
    /// IDs, parent, flags and trace state.
    public var context: SpanContext
    /// Start, in nanoseconds since the Unix epoch.
    public var startNanoseconds: UInt64
    /// End, in nanoseconds since the Unix epoch.
    public var endNanoseconds: UInt64
    /// The attributes, after span limits.
    public var attributes: SpanAttributes
    /// Attributes dropped by the span limits.
    public var droppedAttributes: Int
    /// Events (including recorded errors as `exception` events), in order.
    public var events: [SpanEvent]
    /// Links to other spans.
    public var links: [Link]
    /// The status, if one was set.
    public var status: SpanStatus?
    /// Events dropped by the span limits.
    public var droppedEvents: Int
    /// Links dropped by the span limits.
    public var droppedLinks: Int

    /// A link to another span.
    public struct Link: Sendable {
        /// The linked span.
        public var context: SpanContext
        /// The link's attributes.
        public var attributes: SpanAttributes
    }

    /// The span's duration in seconds.
    public var durationSeconds: Double {
        Double(self.endNanoseconds &- self.startNanoseconds) / 1e9
    }
}
