import Instrumentation
import Tracing

/// A span of Kite's tracer.
///
/// A small value referring to the span's shared state (every copy is the same span, as the `Span`
/// protocol requires). Mutations take a short lock inside that state. A span that was not sampled
/// records nothing: its setters are no-ops and ending it does nothing, but its context still
/// propagates to children and outgoing requests (flagged unsampled).
///
/// Besides the protocol's `attributes`, a span takes attributes one at a time through
/// ``setAttribute(_:_:)``, the cheaper way (no dictionary): Kite's own instrumentation uses it.
public struct KiteSpan: Span {
    /// The context the span started in.
    private let parentContext: ServiceContext
    let core: SpanCore
    /// The name of a span that kept its parent's context (`core` is the parent's then).
    private let inheritedName: String?

    init(parentContext: ServiceContext, core: SpanCore) {
        self.parentContext = parentContext
        self.core = core
        self.inheritedName = nil
    }

    /// A span that records nothing inside a trace nobody records: it keeps the context it started
    /// in, whose core (`parent`) identifies it.
    init(name: String, inheriting context: ServiceContext, parent: SpanCore) {
        self.parentContext = context
        self.core = parent
        self.inheritedName = name
    }

    /// The context holding this span's ``SpanContext``: run children and outgoing calls in it.
    ///
    /// Made when asked for (the context the span started in, plus the span): a span whose context
    /// nobody reads costs no context of its own. Every read gives an equal context.
    public var context: ServiceContext {
        guard self.inheritedName == nil else { return self.parentContext }
        var context = self.parentContext
        context[SpanContextKey.self] = self.core
        return context
    }

    /// This span's IDs.
    public var spanContext: SpanContext { self.core.spanContext }
    /// The span kind (`.internal` for a span that kept its parent's context: a span that records
    /// nothing inside an unsampled trace keeps no kind of its own).
    public var kind: SpanKind { self.inheritedName == nil ? self.core.kind : .internal }
    /// Start, in nanoseconds since the Unix epoch (0 for a span that does not record).
    public var startNanoseconds: UInt64 { self.recordingCore?.startNanoseconds ?? 0 }
    public var isRecording: Bool { self.inheritedName == nil && self.core.isRecording }
    /// Whether this span kept the context it was started in (a non-recording span inside an
    /// unsampled trace) instead of adding its own span context.
    public var inheritsContext: Bool { self.inheritedName != nil }

    /// The core this span may change: `nil` when the span does not record.
    @inline(__always)
    private var recordingCore: RecordingSpanCore? { self.inheritedName == nil ? self.core.recording : nil }

    /// Runs `body` with the core this span may change, when it records, without retaining the
    /// core for the call: the span holds it throughout (a retain and a release per attribute
    /// were a fifth of setting one).
    @inline(__always)
    private func withRecordingCore(_ body: (RecordingSpanCore) -> Void) {
        guard self.inheritedName == nil, self.core.isRecording else { return }
        Unmanaged.passUnretained(self.core)._withUnsafeGuaranteedRef { core in
            body(unsafeDowncast(core, to: RecordingSpanCore.self))
        }
    }

    public var operationName: String {
        get {
            if let inheritedName { return inheritedName }
            return self.core.recording?.currentName ?? self.core.name
        }
        nonmutating set { self.recordingCore?.rename(newValue) }
    }

    /// Sets one attribute, replacing an earlier value of `key` — what `attributes[key] = value`
    /// does, without building a dictionary. Beyond ``SpanLimits/maxAttributes`` a new key is
    /// dropped (and counted in the exported span).
    public func setAttribute(_ key: consuming String, _ value: consuming SpanAttribute) {
        self.withRecordingCore { $0.setAttribute(key, StoredAttribute(copy value)) }
    }

    /// Sets one attribute from any value that converts to one (a `String`, an `Int`, a `Bool`…).
    @inlinable
    public func setAttribute<Value: SpanAttributeConvertible>(_ key: String, _ value: Value) {
        self.setAttribute(key, value.toSpanAttribute())
    }

    // The common value types, each stored as it is (`StoredAttribute`), with no 41-byte
    // `SpanAttribute` built and copied on the way.

    /// Sets a string attribute (`.string(value)`).
    public func setAttribute(_ key: consuming String, _ value: String) {
        self.withRecordingCore { $0.setAttribute(key, .string(value)) }
    }

    /// Sets an integer attribute (`.int64(value)`, as `Int.toSpanAttribute()` on 64-bit platforms).
    public func setAttribute(_ key: consuming String, _ value: Int) {
        self.withRecordingCore {
            $0.setAttribute(key, MemoryLayout<Int>.size == 8 ? .int64(Int64(value)) : StoredAttribute(.int32(Int32(truncatingIfNeeded: value))))
        }
    }

    /// Sets a Boolean attribute (`.bool(value)`).
    public func setAttribute(_ key: consuming String, _ value: Bool) {
        self.withRecordingCore { $0.setAttribute(key, .bool(value)) }
    }

    /// Sets a floating-point attribute (`.double(value)`).
    public func setAttribute(_ key: consuming String, _ value: Double) {
        self.withRecordingCore { $0.setAttribute(key, .double(value)) }
    }

    public var attributes: SpanAttributes {
        get {
            guard let core = self.recordingCore else { return [:] }
            return core.read { $0.attributes.spanAttributes }
        }
        nonmutating set {
            self.recordingCore?.update { state in
                state.attributes = SpanAttributeList(newValue)
                state.mayHaveCallerDescribedValues = true
            }
        }
        nonmutating _modify {
            // Lets `span.attributes["key"] = value` change the stored attributes in place instead
            // of copying them for every attribute. The accessor keeps nothing but `self` and the
            // core across its yield: a larger frame would be allocated on the heap at every call.
            guard let core = self.recordingCore else {
                // A span that records nothing takes changes and forgets them.
                var discarded = SpanAttributes()
                yield &discarded
                return
            }
            core.lock.lock()
            defer { core.lock.unlock() }
            if core.state.ended {
                var discarded = SpanAttributes()
                yield &discarded
            } else {
                core.state.mayHaveCallerDescribedValues = true
                if !core.state.attributes.isDictionaryReady { core.prepareProtocolAttributes() }
                yield &core.state.attributes.dictionary
            }
        }
    }

    public func setStatus(_ status: SpanStatus) {
        self.recordingCore?.update { state in
            // OpenTelemetry: `ok` is final.
            if state.status?.code != .ok {
                state.status = status
            }
        }
    }

    public func addEvent(_ event: SpanEvent) {
        self.withRecordingCore { core in
            core.update { state in
                if state.events.count < core.limits.maxEvents {
                    if !event.attributes.isEmpty { state.mayHaveCallerDescribedValues = true }
                    state.events.append(event)
                } else {
                    state.droppedEvents += 1
                }
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
        guard let core = self.recordingCore, let linked = link.context.spanContext else { return }
        core.update { state in
            if state.links.count < core.limits.maxLinks {
                if !link.attributes.isEmpty { state.mayHaveCallerDescribedValues = true }
                state.links.append(SpanRecord.Link(context: linked, attributes: link.attributes))
            } else {
                state.droppedLinks += 1
            }
        }
    }

    /// Ends the span now: the `Span` protocol's `end()`, without its generic, out-of-module path.
    public func end() {
        self.withRecordingCore { $0.end(at: DefaultTracerClock.now.nanosecondsSinceEpoch) }
    }

    public func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        guard let core = self.recordingCore else { return }
        core.end(at: instant().nanosecondsSinceEpoch)
    }

    /// Ends the span at a time the caller already has, in nanoseconds since the Unix epoch (the
    /// endpoint decorator: its start plus the duration it measured), without reading the clock.
    package func end(atNanosecondsSinceEpoch nanoseconds: UInt64) {
        self.recordingCore?.end(at: nanoseconds)
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
