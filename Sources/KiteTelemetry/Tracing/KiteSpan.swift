import Instrumentation
import Tracing

/// A span of Kite's tracer.
///
/// Mutations take a short lock (``SpanLock``, a word inside the span). A span that was not sampled
/// records nothing: its setters are no-ops and ending it does nothing, but its context still
/// propagates to children and outgoing requests (flagged unsampled).
public final class KiteSpan: Span, @unchecked Sendable {
    // @unchecked: `state` and `discarded` are only touched with `lock` held (`state.name` of a
    // span that does not record, which never changes, excepted).

    /// The context holding this span's ``SpanContext``: run children and outgoing calls in it.
    public let context: ServiceContext
    /// This span's IDs.
    public let spanContext: SpanContext
    /// The span kind.
    public let kind: SpanKind
    /// Start, in nanoseconds since the Unix epoch.
    public let startNanoseconds: UInt64
    public let isRecording: Bool
    /// Whether this span kept the context it was started in (a non-recording span inside an
    /// unsampled trace) instead of adding its own span context.
    public let inheritsContext: Bool

    private let processor: (any SpanProcessor)?
    /// The box of ``context`` that makes this span findable while it records; cleared at the end.
    private let activeBox: SpanContextBox?
    private let limits: SpanLimits
    private let lock = SpanLock()
    // Unchecked: the lock keeps accesses exclusive; the runtime's checks would cost more than
    // the attribute they guard.
    @exclusivity(unchecked) private var state: State
    /// What `attributes` hands out, and forgets, when the span does not record or has ended.
    @exclusivity(unchecked) private var discarded = SpanAttributes()

    private struct State {
        var name: String
        var attributes: SpanAttributes = [:]
        var events: [SpanEvent] = []
        var links: [SpanRecord.Link] = []
        var status: SpanStatus?
        var droppedEvents = 0
        var droppedLinks = 0
        var ended = false
    }

    init(
        name: String,
        kind: SpanKind,
        context: ServiceContext,
        spanContext: SpanContext,
        startNanoseconds: UInt64,
        processor: (any SpanProcessor)?,
        limits: SpanLimits,
        inheritsContext: Bool = false,
        activeBox: SpanContextBox? = nil
    ) {
        self.inheritsContext = inheritsContext
        self.activeBox = activeBox
        self.context = context
        self.spanContext = spanContext
        self.kind = kind
        self.startNanoseconds = startNanoseconds
        self.isRecording = processor != nil
        self.processor = processor
        self.limits = limits
        self.state = State(name: name)
        activeBox?.attach(self)
    }

    /// Runs `body` on the state under the lock; `nil` when the span does not record.
    private func withState<Result>(_ body: (inout State) -> Result) -> Result? {
        guard self.isRecording else { return nil }
        self.lock.lock()
        defer { self.lock.unlock() }
        return body(&self.state)
    }

    public var operationName: String {
        get { self.withState { $0.name } ?? self.state.name }
        set { self.withState { if !$0.ended { $0.name = newValue } } }
    }

    public var attributes: SpanAttributes {
        get { self.withState { $0.attributes } ?? [:] }
        set { self.withState { if !$0.ended { $0.attributes = newValue } } }
        _modify {
            // Lets `span.attributes["key"] = value` change the stored attributes in place instead
            // of copying them for every attribute. The accessor keeps nothing but `self` across
            // its yield: a larger frame would be allocated on the heap at every call.
            self.lock.lock()
            defer { self.lock.unlock() }
            if self.isRecording && !self.state.ended {
                if self.state.attributes.isEmpty { self.reserveAttributes() }
                yield &self.state.attributes
            } else {
                // A span that records nothing, or has ended, takes changes and forgets them.
                yield &self.discarded
                self.discarded = SpanAttributes()
            }
        }
    }

    @inline(never)
    private func reserveAttributes() {
        self.state.attributes.reserveCapacity(8)
    }

    public func setStatus(_ status: SpanStatus) {
        self.withState { state in
            // OpenTelemetry: `ok` is final.
            if !state.ended, state.status?.code != .ok {
                state.status = status
            }
        }
    }

    public func addEvent(_ event: SpanEvent) {
        self.withState { state in
            guard !state.ended else { return }
            if state.events.count < self.limits.maxEvents {
                state.events.append(event)
            } else {
                state.droppedEvents += 1
            }
        }
    }

    public func recordError<Instant: TracerInstant>(
        _ error: any Error,
        attributes: SpanAttributes,
        at instant: @autoclosure () -> Instant
    ) {
        guard self.isRecording else { return }
        var eventAttributes = attributes
        eventAttributes["exception.type"] = String(reflecting: type(of: error))
        eventAttributes["exception.message"] = String(describing: error)
        self.addEvent(SpanEvent(name: "exception", at: instant(), attributes: eventAttributes))
    }

    public func addLink(_ link: SpanLink) {
        guard self.isRecording, let linked = link.context.spanContext else { return }
        self.withState { state in
            guard !state.ended else { return }
            if state.links.count < self.limits.maxLinks {
                state.links.append(SpanRecord.Link(context: linked, attributes: link.attributes))
            } else {
                state.droppedLinks += 1
            }
        }
    }

    public func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        let record: SpanRecord? = self.withState { state -> SpanRecord? in
            guard !state.ended else { return nil }
            state.ended = true
            guard self.spanContext.isSampled else { return nil }
            let end = instant().nanosecondsSinceEpoch
            // The state is final: its collections move into the record instead of being copied
            // (reading them from an ended span gives empty values).
            var attributes = SpanAttributes()
            swap(&attributes, &state.attributes)
            var events: [SpanEvent] = []
            swap(&events, &state.events)
            var links: [SpanRecord.Link] = []
            swap(&links, &state.links)
            let droppedAttributes = max(attributes.count - self.limits.maxAttributes, 0)
            if droppedAttributes > 0 {
                var kept = SpanAttributes()
                var remaining = self.limits.maxAttributes
                attributes.forEach { key, value in
                    if remaining > 0 {
                        kept[key] = value
                        remaining -= 1
                    }
                }
                attributes = kept
            }
            return SpanRecord(
                name: state.name,
                kind: self.kind,
                context: self.spanContext,
                startNanoseconds: self.startNanoseconds,
                endNanoseconds: max(end, self.startNanoseconds),
                attributes: attributes,
                droppedAttributes: droppedAttributes,
                events: events,
                links: links,
                status: state.status,
                droppedEvents: state.droppedEvents,
                droppedLinks: state.droppedLinks
            )
        } ?? nil
        self.activeBox?.detach()
        switch consume record {
        case .some(let record): self.processor?.onEnd(record)
        case .none: break
        }
    }
}

/// Bounds on what one span keeps, the OpenTelemetry span limits.
///
/// The count limits on a span's attributes, events and links apply when the span ends; the limits
/// on event and link attributes and on value length apply when the span is encoded for export
/// (off the request's path). Whatever they leave out is written in the span's `dropped_*_count`
/// fields.
public struct SpanLimits: Sendable, Hashable {
    /// Attributes kept per span (`OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`, default 128).
    public var maxAttributes: Int
    /// Events kept per span (`OTEL_SPAN_EVENT_COUNT_LIMIT`, default 128).
    public var maxEvents: Int
    /// Links kept per span (`OTEL_SPAN_LINK_COUNT_LIMIT`, default 128).
    public var maxLinks: Int
    /// Attributes kept per event (`OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT`, default 128).
    public var maxAttributesPerEvent: Int
    /// Attributes kept per link (`OTEL_LINK_ATTRIBUTE_COUNT_LIMIT`, default 128).
    public var maxAttributesPerLink: Int
    /// UTF-8 bytes kept of a string attribute value (`OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`,
    /// default no limit).
    public var maxAttributeValueLength: Int

    /// Creates limits.
    public init(
        maxAttributes: Int = 128,
        maxEvents: Int = 128,
        maxLinks: Int = 128,
        maxAttributesPerEvent: Int = 128,
        maxAttributesPerLink: Int = 128,
        maxAttributeValueLength: Int = .max
    ) {
        self.maxAttributes = maxAttributes
        self.maxEvents = maxEvents
        self.maxLinks = maxLinks
        self.maxAttributesPerEvent = maxAttributesPerEvent
        self.maxAttributesPerLink = maxAttributesPerLink
        self.maxAttributeValueLength = maxAttributeValueLength
    }
}
