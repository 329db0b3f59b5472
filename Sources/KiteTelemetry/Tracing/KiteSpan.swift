import Instrumentation
import NIOConcurrencyHelpers
import Tracing

/// A span of Kite's tracer.
///
/// Mutations take a short lock. A span that was not sampled records nothing: its setters are
/// no-ops and ending it only marks it ended, but its context still propagates to children and
/// outgoing requests (flagged unsampled).
public final class KiteSpan: Span, @unchecked Sendable {
    // @unchecked: `state` is only touched with `lock` held.

    /// The context holding this span's ``SpanContext``: run children and outgoing calls in it.
    public let context: ServiceContext
    /// This span's IDs.
    public let spanContext: SpanContext
    /// The span kind.
    public let kind: SpanKind
    /// Start, in nanoseconds since the Unix epoch.
    public let startNanoseconds: UInt64
    public let isRecording: Bool

    private let processor: (any SpanProcessor)?
    private let limits: SpanLimits
    private let lock = NIOLock()
    private var state: State

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
        limits: SpanLimits
    ) {
        self.context = context
        self.spanContext = spanContext
        self.kind = kind
        self.startNanoseconds = startNanoseconds
        self.isRecording = processor != nil
        self.processor = processor
        self.limits = limits
        self.state = State(name: name)
    }

    public var operationName: String {
        get { self.lock.withLock { self.state.name } }
        set {
            guard self.isRecording else { return }
            self.lock.withLock { if !self.state.ended { self.state.name = newValue } }
        }
    }

    public var attributes: SpanAttributes {
        get { self.lock.withLock { self.state.attributes } }
        set {
            guard self.isRecording else { return }
            self.lock.withLock { if !self.state.ended { self.state.attributes = newValue } }
        }
        _modify {
            // Lets `span.attributes["key"] = value` change the stored attributes in place instead
            // of copying them for every attribute.
            self.lock.lock()
            defer { self.lock.unlock() }
            if self.state.attributes.isEmpty {
                self.state.attributes.reserveCapacity(8)
            }
            yield &self.state.attributes
        }
    }

    public func setStatus(_ status: SpanStatus) {
        guard self.isRecording else { return }
        self.lock.withLock {
            // OpenTelemetry: `ok` is final.
            if !self.state.ended, self.state.status?.code != .ok {
                self.state.status = status
            }
        }
    }

    public func addEvent(_ event: SpanEvent) {
        guard self.isRecording else { return }
        self.lock.withLock {
            guard !self.state.ended else { return }
            if self.state.events.count < self.limits.maxEvents {
                self.state.events.append(event)
            } else {
                self.state.droppedEvents += 1
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
        self.lock.withLock {
            guard !self.state.ended else { return }
            if self.state.links.count < self.limits.maxLinks {
                self.state.links.append(SpanRecord.Link(context: linked, attributes: link.attributes))
            } else {
                self.state.droppedLinks += 1
            }
        }
    }

    public func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        let record: SpanRecord? = self.lock.withLock {
            guard !self.state.ended else { return nil }
            self.state.ended = true
            guard self.isRecording, self.spanContext.isSampled else { return nil }
            let end = instant().nanosecondsSinceEpoch
            var attributes = self.state.attributes
            if attributes.count > self.limits.maxAttributes {
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
                name: self.state.name,
                kind: self.kind,
                context: self.spanContext,
                startNanoseconds: self.startNanoseconds,
                endNanoseconds: max(end, self.startNanoseconds),
                attributes: attributes,
                events: self.state.events,
                links: self.state.links,
                status: self.state.status,
                droppedEvents: self.state.droppedEvents,
                droppedLinks: self.state.droppedLinks
            )
        }
        if let record { self.processor?.onEnd(record) }
    }
}

/// Bounds on what one span keeps (`OTEL_SPAN_*_COUNT_LIMIT`, default 128 each).
public struct SpanLimits: Sendable, Hashable {
    /// Attributes kept per span.
    public var maxAttributes: Int
    /// Events kept per span.
    public var maxEvents: Int
    /// Links kept per span.
    public var maxLinks: Int

    /// Creates limits.
    public init(maxAttributes: Int = 128, maxEvents: Int = 128, maxLinks: Int = 128) {
        self.maxAttributes = maxAttributes
        self.maxEvents = maxEvents
        self.maxLinks = maxLinks
    }
}
