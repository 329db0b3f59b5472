import Tracing

/// The core of a span that records: its identity (``SpanCore``) and what it has recorded so far.
///
/// Mutations take a short lock (``SpanLock``, a word inside the core) and are refused once the
/// span has ended. From then on the state never changes, and the core itself is the span's
/// ``SpanRecord``: ending a span hands the processor a reference to it, without copying its
/// attributes, events or links into a record of their own.
final class RecordingSpanCore: SpanCore, @unchecked Sendable {
    // @unchecked: `state` (and the inherited `name`) change only with `lock` held, and never
    // after `state.ended` is set; what reads them after the end, without the lock, received the
    // record through a processor's synchronisation.

    let startNanoseconds: UInt64
    /// Receives the record at the end (`nil` for a record made by hand, which starts ended).
    let processor: (any SpanProcessor)?
    let limits: SpanLimits
    let lock = SpanLock()
    // Unchecked: the lock keeps accesses exclusive; the runtime's checks would cost more than
    // the attribute they guard.
    @exclusivity(unchecked) var state: State

    struct State {
        /// Attributes set through ``KiteSpan/setAttribute(_:_:)`` and through the `Span` protocol's
        /// `attributes` (the list's dictionary part).
        var attributes = SpanAttributeList()
        var events = SpanEventList()
        var links: [SpanRecord.Link] = []
        var status: SpanStatus?
        var droppedAttributes = 0
        var droppedEvents = 0
        var droppedLinks = 0
        var ended = false
        /// Set when the span ends (never before its start).
        var endNanoseconds: UInt64 = 0
        /// Whether the state may hold a value described by the caller's code: set, never
        /// cleared, when an attribute of another kind than the four encoded ones is set, when the
        /// protocol's attribute dictionary is set or handed out for changes, when an event or a
        /// link with attributes is added, and for a record made or changed by hand. While it is
        /// not set, ``hasCallerDescribedValues`` is `false`: a plain field, read where the state
        /// lies, answers without a look at the values (see `SpanRecord.hasCallerDescribedValues`).
        var mayHaveCallerDescribedValues = false

        /// Whether encoding the state runs the caller's code: a value described by its
        /// `description`, in the attributes or in an event's or link's.
        var hasCallerDescribedValues: Bool {
            self.attributes.hasCallerDescribedValues
                || self.events.contains { !$0.attributes.isEmpty && $0.attributes.hasCallerDescribedValues }
                || self.links.contains { !$0.attributes.isEmpty && $0.attributes.hasCallerDescribedValues }
        }
    }

    /// A span that starts recording.
    init(
        name: String,
        kind: SpanKind,
        spanContext: SpanContext,
        startNanoseconds: UInt64,
        processor: any SpanProcessor,
        limits: SpanLimits
    ) {
        self.startNanoseconds = startNanoseconds
        self.processor = processor
        self.limits = limits
        self.state = State()
        super.init(name: name, kind: kind, spanContext: spanContext, isRecording: true)
        if self.countsAsActive { ActiveSampledSpans.started() }
    }

    /// An ended span's record, made from its parts (``SpanRecord``'s initialisers, and the copy
    /// a record makes of itself before a change).
    init(name: String, kind: SpanKind, spanContext: SpanContext, startNanoseconds: UInt64, endedWith state: State) {
        self.startNanoseconds = startNanoseconds
        self.processor = nil
        self.limits = SpanLimits()
        self.state = state
        self.state.ended = true
        self.state.mayHaveCallerDescribedValues = true
        super.init(name: name, kind: kind, spanContext: spanContext, isRecording: true)
    }

    /// Whether this span is one of ``ActiveSampledSpans`` until it ends.
    private var countsAsActive: Bool { self.isSampled && self.processor != nil }

    deinit {
        // A span dropped without being ended is no longer in progress either.
        if self.countsAsActive && !self.state.ended { ActiveSampledSpans.ended() }
    }

    /// Runs `body` on the state of a span that has not ended, under the lock.
    @inline(__always)
    func update(_ body: (inout State) -> Void) {
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

    /// The operation name, read under the lock (it may change until the span ends).
    var currentName: String {
        self.lock.lock()
        defer { self.lock.unlock() }
        return self.name
    }

    /// Renames a span that has not ended.
    func rename(_ name: String) {
        self.lock.lock()
        defer { self.lock.unlock() }
        if !self.state.ended { self.name = name }
    }

    /// Sets one attribute (``KiteSpan/setAttribute(_:_:)``). Inlined, so that the caller's
    /// attribute is built where the list stores it.
    @inline(__always)
    func setAttribute(_ key: String, _ value: StoredAttribute) {
        self.lock.lock()
        defer { self.lock.unlock() }
        guard !self.state.ended else { return }
        if case .other = value { self.state.mayHaveCallerDescribedValues = true }
        if !self.state.attributes.set(key, stored: value, limit: self.limits.maxAttributes) {
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

    /// Ends the span: the first call freezes the state and, when the trace is sampled, hands the
    /// span to the processor as its record.
    func end(at endNanoseconds: UInt64) {
        self.lock.lock()
        guard !self.state.ended else {
            self.lock.unlock()
            return
        }
        self.state.ended = true
        self.state.endNanoseconds = max(endNanoseconds, self.startNanoseconds)
        guard self.isSampled, let processor = self.processor else {
            self.lock.unlock()
            return
        }
        ActiveSampledSpans.ended()
        // The protocol's dictionary is not bounded while it is changed: the limit applies here.
        if self.state.attributes.count > self.limits.maxAttributes {
            self.state.droppedAttributes += self.state.attributes.truncate(to: self.limits.maxAttributes)
        }
        self.lock.unlock()
        processor.onEnd(SpanRecord(ended: self))
    }
}
