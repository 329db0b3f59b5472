import Tracing

/// A finished span, as exporters receive it.
///
/// A record is the ended span itself, whose state no longer changes: ending a span hands its
/// processor a reference, without copying the attributes, events and links. Changing a record (a
/// processor that redacts an attribute, say) gives it state of its own first; the span and other
/// copies of the record keep theirs.
public struct SpanRecord: Sendable {
    private var core: RecordingSpanCore

    /// The record of `core`, which has ended.
    init(ended core: RecordingSpanCore) {
        self.core = core
    }

    /// Calls `body` with the ended span and where its state lies: the encoders' read.
    ///
    /// The getters below copy (a record, its attributes or its events), and every copy writes a
    /// reference count in memory that the span's thread wrote last and will free once the span is
    /// exported: each such write pulls a cache line over to the exporting core and back. So does
    /// a `borrowing` state, read from the core and handed to a call: the compiler copies a class's
    /// stored property before lending it, since the call could change it. The state of an ended
    /// span never changes; `body` reads its fields through the pointer, where they lie.
    func withEnded<Result>(_ body: (_ span: RecordingSpanCore, _ state: UnsafePointer<RecordingSpanCore.State>) -> Result) -> Result {
        let core = self.core
        return withUnsafePointer(to: &core.state) { body(core, $0) }
    }

    /// Whether encoding the span runs the caller's code (see
    /// ``RecordingSpanCore/State/hasCallerDescribedValues``). A span whose state cannot hold
    /// such a value answers from one field, without reading the values (which copies the state).
    var hasCallerDescribedValues: Bool {
        self.core.state.mayHaveCallerDescribedValues && self.withEnded { $1.pointee.hasCallerDescribedValues }
    }

    /// The operation name.
    public var name: String {
        get { self.core.name }
        set { self.change { $0.name = newValue } }
    }
    /// The span kind.
    public var kind: SpanKind {
        get { self.core.kind }
        set { self.change { $0.kind = newValue } }
    }
    /// IDs, parent, flags and trace state.
    public var context: SpanContext {
        get { self.core.spanContext }
        set { self.change { $0.context = newValue } }
    }
    /// Start, in nanoseconds since the Unix epoch.
    public var startNanoseconds: UInt64 {
        get { self.core.startNanoseconds }
        set { self.change { $0.startNanoseconds = newValue } }
    }
    /// End, in nanoseconds since the Unix epoch.
    public var endNanoseconds: UInt64 {
        get { self.core.state.endNanoseconds }
        set { self.change { $0.state.endNanoseconds = newValue } }
    }
    /// The attributes, after span limits, in the order they were first set.
    public var attributeList: SpanAttributeList {
        get { self.core.state.attributes }
        set { self.change { $0.state.attributes = newValue } }
    }
    /// The attributes, after span limits, as swift-distributed-tracing's dictionary.
    public var attributes: SpanAttributes {
        get { self.attributeList.spanAttributes }
        set { self.attributeList = SpanAttributeList(newValue) }
    }
    /// Attributes dropped by the span limits.
    public var droppedAttributes: Int {
        get { self.core.state.droppedAttributes }
        set { self.change { $0.state.droppedAttributes = newValue } }
    }
    /// Events (including recorded errors as `exception` events), in order.
    public var events: [SpanEvent] {
        get { self.core.state.events.array }
        set { self.change { $0.state.events = SpanEventList(newValue) } }
    }
    /// Links to other spans.
    public var links: [Link] {
        get { self.core.state.links }
        set { self.change { $0.state.links = newValue } }
    }
    /// The status, if one was set.
    public var status: SpanStatus? {
        get { self.core.state.status }
        set { self.change { $0.state.status = newValue } }
    }
    /// Events dropped by the span limits.
    public var droppedEvents: Int {
        get { self.core.state.droppedEvents }
        set { self.change { $0.state.droppedEvents = newValue } }
    }
    /// Links dropped by the span limits.
    public var droppedLinks: Int {
        get { self.core.state.droppedLinks }
        set { self.change { $0.state.droppedLinks = newValue } }
    }

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
        var state = RecordingSpanCore.State()
        state.attributes = attributeList
        state.droppedAttributes = droppedAttributes
        state.events = SpanEventList(events)
        state.links = links
        state.status = status
        state.droppedEvents = droppedEvents
        state.droppedLinks = droppedLinks
        state.endNanoseconds = endNanoseconds
        self.core = Parts(name: name, kind: kind, context: context, startNanoseconds: startNanoseconds, state: state).record()
    }

    /// What a record is made of.
    private struct Parts {
        var name: String
        var kind: SpanKind
        var context: SpanContext
        var startNanoseconds: UInt64
        var state: RecordingSpanCore.State

        /// An ended span of these parts.
        func record() -> RecordingSpanCore {
            RecordingSpanCore(
                name: self.name,
                kind: self.kind,
                spanContext: self.context,
                startNanoseconds: self.startNanoseconds,
                endedWith: self.state
            )
        }
    }

    /// Applies a change to a copy of the record's parts, which become the record's own.
    private mutating func change(_ body: (inout Parts) -> Void) {
        var parts = Parts(
            name: self.core.name,
            kind: self.core.kind,
            context: self.core.spanContext,
            startNanoseconds: self.core.startNanoseconds,
            state: self.core.state
        )
        body(&parts)
        self.core = parts.record()
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
