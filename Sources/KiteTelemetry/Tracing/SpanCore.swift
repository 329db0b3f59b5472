import Tracing

/// One span as it lives on the heap: its identity, which the span's `ServiceContext` carries (under
/// ``SpanContextKey``), and — when the span records — what it has recorded so far.
///
/// ``KiteSpan`` is a small value that refers to a core; every copy of a span refers to the same
/// one. The core does not refer to the context that holds it, so nothing is kept alive in a cycle
/// and no reference has to be cleared at the end. A span context extracted from an incoming request
/// gets a core too, one that records nothing.
///
/// Mutations take a short lock (``SpanLock``, a word inside the core).
final class SpanCore: @unchecked Sendable {
    // @unchecked: `state` is only touched with `lock` held (`state.name` of a core that does not
    // record, which never changes, excepted).

    let spanContext: SpanContext
    let kind: SpanKind
    let startNanoseconds: UInt64
    /// Receives the record at the end; `nil` when the span does not record.
    let processor: (any SpanProcessor)?
    let isRecording: Bool
    /// Whether the trace is sampled (``SpanContext/isSampled``, read once).
    let isSampled: Bool
    let limits: SpanLimits
    let lock = SpanLock()
    // Unchecked: the lock keeps accesses exclusive; the runtime's checks would cost more than
    // the attribute they guard.
    @exclusivity(unchecked) var state: State

    struct State {
        var name: String
        /// Attributes set through ``KiteSpan/setAttribute(_:_:)`` and through the `Span` protocol's
        /// `attributes` (the list's dictionary part).
        var attributes = SpanAttributeList()
        var events: [SpanEvent] = []
        var links: [SpanRecord.Link] = []
        var status: SpanStatus?
        var droppedAttributes = 0
        var droppedEvents = 0
        var droppedLinks = 0
        var ended = false
    }

    init(
        name: String,
        kind: SpanKind,
        spanContext: SpanContext,
        startNanoseconds: UInt64,
        processor: (any SpanProcessor)?,
        limits: SpanLimits
    ) {
        self.spanContext = spanContext
        self.kind = kind
        self.startNanoseconds = startNanoseconds
        self.processor = processor
        self.isRecording = processor != nil
        self.isSampled = spanContext.isSampled
        self.limits = limits
        self.state = State(name: name)
        if self.countsAsActive { ActiveSampledSpans.started() }
    }

    /// Whether this span is one of ``ActiveSampledSpans`` until it ends.
    private var countsAsActive: Bool { self.isRecording && self.isSampled }

    deinit {
        // A span dropped without being ended is no longer in progress either.
        if self.countsAsActive && !self.state.ended { ActiveSampledSpans.ended() }
    }

    /// A core that only carries `spanContext` (extracted from a request, or set by hand).
    convenience init(carrying spanContext: SpanContext) {
        self.init(name: "", kind: .internal, spanContext: spanContext, startNanoseconds: 0, processor: nil, limits: SpanLimits())
    }

    /// Runs `body` on the state of a recording span that has not ended, under the lock.
    @inline(__always)
    func update(_ body: (inout State) -> Void) {
        guard self.isRecording else { return }
        self.lock.lock()
        defer { self.lock.unlock() }
        if !self.state.ended { body(&self.state) }
    }

    /// Reads the state under the lock.
    func read<Result>(_ body: (borrowing State) -> Result) -> Result {
        self.lock.lock()
        defer { self.lock.unlock() }
        return body(self.state)
    }

    var hasEnded: Bool { self.read { $0.ended } }

    /// Sets one attribute (``KiteSpan/setAttribute(_:_:)``) of a recording span.
    func setAttribute(_ key: consuming String, _ value: consuming SpanAttribute) {
        self.lock.lock()
        defer { self.lock.unlock() }
        guard !self.state.ended else { return }
        if !self.state.attributes.set(key, value, limit: self.limits.maxAttributes) {
            self.state.droppedAttributes += 1
        }
    }

    /// Readies the attributes' dictionary to be handed out for changes through the `Span`
    /// protocol: the attributes set one by one move into it, and it gets room for a few more
    /// (growing one by one would rehash).
    @inline(never)
    func prepareProtocolAttributes() {
        self.state.attributes.moveEntriesIntoDictionary()
    }

    /// Ends the span: the first call makes its record and hands it to the processor.
    func end(at endNanoseconds: UInt64) {
        self.lock.lock()
        guard !self.state.ended else {
            self.lock.unlock()
            return
        }
        self.state.ended = true
        if self.countsAsActive { ActiveSampledSpans.ended() }
        guard self.isSampled, let processor = self.processor else {
            self.lock.unlock()
            return
        }
        let record = self.takeRecord(endNanoseconds: endNanoseconds)
        self.lock.unlock()
        processor.onEnd(record)
    }

    /// The record of the ended span. The state is final: its collections move into the record
    /// instead of being copied (reading them from an ended span gives empty values).
    private func takeRecord(endNanoseconds: UInt64) -> SpanRecord {
        var attributes = SpanAttributeList()
        swap(&attributes, &self.state.attributes)
        // The protocol's dictionary is not bounded while it is changed: the limit applies here.
        let droppedAttributes = self.state.droppedAttributes + attributes.truncate(to: self.limits.maxAttributes)
        var events: [SpanEvent] = []
        swap(&events, &self.state.events)
        var links: [SpanRecord.Link] = []
        swap(&links, &self.state.links)
        return SpanRecord(
            name: self.state.name,
            kind: self.kind,
            context: self.spanContext,
            startNanoseconds: self.startNanoseconds,
            endNanoseconds: max(endNanoseconds, self.startNanoseconds),
            attributeList: attributes,
            droppedAttributes: droppedAttributes,
            events: events,
            links: links,
            status: self.state.status,
            droppedEvents: self.state.droppedEvents,
            droppedLinks: self.state.droppedLinks
        )
    }
}
