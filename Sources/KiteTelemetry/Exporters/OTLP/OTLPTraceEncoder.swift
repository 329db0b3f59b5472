import NIOCore
import Tracing
import W3CTraceContext

/// Encodes finished spans as an OTLP `ExportTraceServiceRequest`
/// (`opentelemetry/proto/collector/trace/v1/trace_service.proto`), straight from ``SpanRecord``s.
///
/// The attribute limits that are cheaper to apply here than on the request's path are applied
/// here: string values longer than ``SpanLimits/maxAttributeValueLength`` are cut (at a UTF-8
/// boundary), event and link attributes beyond their count limits are left out and written as
/// `dropped_attributes_count`. What was cut or left out is reported in ``Stats``.
///
/// Reuse one encoder: its buffer keeps its capacity, so encoding allocates nothing once warm.
public struct OTLPTraceEncoder: ~Copyable, Sendable {
    /// The resource and scope of every request.
    public let resource: OTLPResource
    /// The limits applied while encoding.
    public let limits: SpanLimits
    private var writer: ProtobufWriter

    /// What the limits changed in one request.
    public struct Stats: Sendable, Equatable {
        /// Attribute values cut to the length limit.
        public var truncatedValues = 0
        /// Event and link attributes left out by their count limits.
        public var droppedAttributes = 0
    }

    /// Creates an encoder.
    public init(resource: OTLPResource, limits: SpanLimits = SpanLimits()) {
        self.resource = resource
        self.limits = limits
        self.writer = ProtobufWriter(capacity: 64 * 1024)
    }

    /// The request encoded by the last ``encode(_:)``.
    public var bytes: [UInt8] { self.writer.bytes }

    /// Calls `body` with the request encoded last, without copying it.
    public func withBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try self.writer.withBytes(body)
    }

    /// Encodes `spans` as one request, readable in ``bytes`` until the next call.
    @discardableResult
    public mutating func encode(_ spans: [SpanRecord]) -> Stats {
        var stats = Stats()
        let resource = self.resource
        let limits = self.limits
        self.writer.reset()
        self.writer.exportRequest(resource) { scopeSpans in
            spans.withUnsafeBufferPointer { records in
                for index in records.indices {
                    Self.writeSpanField(records[index], limits: limits, stats: &stats, into: &scopeSpans)
                }
            }
        }
        return stats
    }

    /// The request for spans that ``encodeSpanField(_:limits:into:)`` encoded before: the same
    /// bytes ``encode(_:)`` gives for the same spans, written once, into the buffer that is sent.
    ///
    /// The lengths of the enclosing messages follow from the spans' byte count, so the request
    /// is written front to back: a small head (the resource, the scope and those lengths), then
    /// the spans' bytes, copied in one piece.
    static func request(_ batch: EncodedSpanBatch, resource: OTLPResource) -> ByteBuffer {
        batch.withBytes { spans in
            var head = ProtobufWriter(capacity: resource.encodedResource.count + resource.encodedScope.count + 24)
            head.exportRequestHead(resource, itemsByteCount: spans.count)
            return head.withBytes { head in
                var buffer = ByteBufferAllocator().buffer(capacity: head.count + spans.count)
                buffer.writeBytes(head)
                buffer.writeBytes(spans)
                return buffer
            }
        }
    }

    /// Encodes one span as it stands in a request — its `ScopeSpans.spans` field, tag and length
    /// included — for a request built later from many (``request(_:resource:)``).
    static func encodeSpanField(_ span: SpanRecord, limits: SpanLimits, into writer: inout ProtobufWriter) -> Stats {
        var stats = Stats()
        Self.writeSpanField(span, limits: limits, stats: &stats, into: &writer)
        return stats
    }

    /// A span as `ScopeSpans.spans` (field 2).
    @inline(__always)
    private static func writeSpanField(_ record: SpanRecord, limits: SpanLimits, stats: inout Stats, into writer: inout ProtobufWriter) {
        // The record is read where it lies, without a copy (see `SpanRecord.withEnded`).
        record.withEnded { span, state in
            writer.message(2, reserving: 2) { Self.writeSpan(span, state, limits: limits, stats: &stats, into: &$0) }
        }
    }

    /// A `Span`'s fields, lowest field number first.
    private static func writeSpan(
        _ span: RecordingSpanCore,
        _ state: UnsafePointer<RecordingSpanCore.State>,
        limits: SpanLimits,
        stats: inout Stats,
        into writer: inout ProtobufWriter
    ) {
        writer.idField(1, span.spanContext.traceID.bytes)
        writer.idField(2, span.spanContext.spanID.bytes)
        if span.spanContext.hasTraceState {
            writer.stringField(3, span.spanContext.traceState.headerValue)
        }
        if let parent = span.spanContext.parentSpanID {
            writer.idField(4, parent.bytes)
        }
        writer.stringField(5, span.name)
        writer.varintField(6, Self.kindNumber(span.kind))
        writer.fixed64Field(7, span.startNanoseconds)
        writer.fixed64Field(8, state.pointee.endNanoseconds)
        let maxLength = limits.maxAttributeValueLength
        // Attributes set one by one are encoded already: usually one copy.
        stats.truncatedValues += state.pointee.attributes.write(into: &writer, maxValueLength: maxLength)
        writer.varintField(10, UInt64(state.pointee.droppedAttributes))
        state.pointee.events.forEachEvent { event in
            writer.message(11, reserving: 1) { writer in
                writer.fixed64Field(1, event.nanosecondsSinceEpoch)
                writer.stringField(2, event.name)
                let dropped = Self.writeAttributes(
                    event.attributes, field: 3, limit: limits.maxAttributesPerEvent, maxLength: maxLength, stats: &stats, into: &writer
                )
                writer.varintField(4, UInt64(dropped))
            }
        }
        writer.varintField(12, UInt64(state.pointee.droppedEvents))
        state.pointee.links.withUnsafeBufferPointer { links in
            for index in links.indices {
                writer.message(13, reserving: 2) { writer in
                    let context = links[index].context
                    writer.idField(1, context.traceID.bytes)
                    writer.idField(2, context.spanID.bytes)
                    if context.hasTraceState {
                        writer.stringField(3, context.traceState.headerValue)
                    }
                    let dropped = Self.writeAttributes(
                        links[index].attributes, field: 4, limit: limits.maxAttributesPerLink, maxLength: maxLength, stats: &stats, into: &writer
                    )
                    writer.varintField(5, UInt64(dropped))
                    writer.fixed32Field(6, UInt32(context.flags.rawValue))
                }
            }
        }
        writer.varintField(14, UInt64(state.pointee.droppedLinks))
        if let status = state.pointee.status {
            writer.message(15) { writer in
                if let message = status.message {
                    writer.stringField(2, message, maxBytes: maxLength)
                }
                writer.varintField(3, status.code == .ok ? 1 : 2)
            }
        }
        writer.fixed32Field(16, UInt32(span.spanContext.flags.rawValue))
    }

    /// Writes at most `limit` attributes; returns how many were left out.
    private static func writeAttributes(
        _ attributes: SpanAttributes,
        field: UInt32,
        limit: Int,
        maxLength: Int,
        stats: inout Stats,
        into writer: inout ProtobufWriter
    ) -> Int {
        guard !attributes.isEmpty else { return 0 }  // most events' and links': no call to `forEach`
        var written = 0
        var dropped = 0
        attributes.forEach { key, value in
            guard written < limit else {
                dropped += 1
                return
            }
            written += 1
            if writer.keyValue(field, key: key, value: value, maxValueLength: maxLength) { stats.truncatedValues += 1 }
        }
        stats.droppedAttributes += dropped
        return dropped
    }

    /// `Span.SpanKind` numbers.
    private static func kindNumber(_ kind: SpanKind) -> UInt64 {
        switch kind {
        case .internal: 1
        case .server: 2
        case .client: 3
        case .producer: 4
        case .consumer: 5
        @unknown default: 1
        }
    }
}
