import Tracing

/// A span's events, in the order they were added: the first one kept inline, the others in an
/// array.
///
/// Most spans have no event or one (a cache miss, a recorded error): kept inline, that one costs
/// the span no allocation of its own, where an array allocated and freed a buffer for it — a few
/// per cent of a span's CPU end to end.
struct SpanEventList: RandomAccessCollection, Sendable {
    /// The first event, when ``hasFirst``; a placeholder otherwise. Not an optional: the encoder
    /// lends the stored event to its closure, where an optional's payload was copied out first.
    private var first = SpanEventList.placeholder
    private var hasFirst = false
    /// The events after the first.
    private var rest: [SpanEvent] = []

    /// What ``first`` holds while the list is empty.
    private static let placeholder = SpanEvent(name: "", at: DefaultTracerClock.Timestamp(nanosecondsSinceEpoch: 0))

    init() {}

    /// The list of `events`, in order.
    init(_ events: [SpanEvent]) {
        for event in events { self.append(event) }
    }

    var startIndex: Int { 0 }
    var endIndex: Int { self.hasFirst ? 1 + self.rest.count : 0 }

    subscript(position: Int) -> SpanEvent {
        // Position 0 of an empty list falls through to the array, which traps as any collection
        // read out of bounds does.
        if position == 0, self.hasFirst { return self.first }
        return self.rest[position - 1]
    }

    /// Adds `event` after the others.
    mutating func append(_ event: SpanEvent) {
        if self.hasFirst {
            self.rest.append(event)
        } else {
            self.first = event
            self.hasFirst = true
        }
    }

    /// The events as an array.
    var array: [SpanEvent] {
        self.hasFirst ? [self.first] + self.rest : []
    }

    /// Calls `body` with each event, in order, without copying it out of the list.
    @inline(__always)
    func forEachEvent(_ body: (borrowing SpanEvent) -> Void) {
        guard self.hasFirst else { return }
        body(self.first)
        self.rest.withUnsafeBufferPointer { rest in
            for index in rest.indices { body(rest[index]) }
        }
    }
}
