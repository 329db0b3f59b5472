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
    /// The attributes, after span limits, in the order they were first set.
    public var attributeList: SpanAttributeList
    /// The attributes, after span limits, as swift-distributed-tracing's dictionary.
    public var attributes: SpanAttributes {
        get { self.attributeList.spanAttributes }
        set { self.attributeList = SpanAttributeList(newValue) }
    }
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

    /// Creates a record (for exporters' tests and benchmarks; the tracer makes them when spans end).
    public init(
        name: String,
        kind: SpanKind,
        context: SpanContext,
        startNanoseconds: UInt64,
        endNanoseconds: UInt64,
        attributes: SpanAttributes = [:],
        droppedAttributes: Int = 0,
        events: [SpanEvent] = [],
        links: [Link] = [],
        status: SpanStatus? = nil,
        droppedEvents: Int = 0,
        droppedLinks: Int = 0
    ) {
        self.init(
            name: name,
            kind: kind,
            context: context,
            startNanoseconds: startNanoseconds,
            endNanoseconds: endNanoseconds,
            attributeList: SpanAttributeList(attributes),
            droppedAttributes: droppedAttributes,
            events: events,
            links: links,
            status: status,
            droppedEvents: droppedEvents,
            droppedLinks: droppedLinks
        )
    }

    /// Creates a record whose attributes are already a list.
    public init(
        name: String,
        kind: SpanKind,
        context: SpanContext,
        startNanoseconds: UInt64,
        endNanoseconds: UInt64,
        attributeList: SpanAttributeList,
        droppedAttributes: Int = 0,
        events: [SpanEvent] = [],
        links: [Link] = [],
        status: SpanStatus? = nil,
        droppedEvents: Int = 0,
        droppedLinks: Int = 0
    ) {
        self.name = name
        self.kind = kind
        self.context = context
        self.startNanoseconds = startNanoseconds
        self.endNanoseconds = endNanoseconds
        self.attributeList = attributeList
        self.droppedAttributes = droppedAttributes
        self.events = events
        self.links = links
        self.status = status
        self.droppedEvents = droppedEvents
        self.droppedLinks = droppedLinks
    }

    /// A link to another span.
    public struct Link: Sendable {
        /// The linked span.
        public var context: SpanContext
        /// The link's attributes.
        public var attributes: SpanAttributes

        /// Creates a link.
        public init(context: SpanContext, attributes: SpanAttributes = [:]) {
            self.context = context
            self.attributes = attributes
        }
    }

    /// The span's duration in seconds.
    public var durationSeconds: Double {
        Double(self.endNanoseconds &- self.startNanoseconds) / 1e9
    }
}
