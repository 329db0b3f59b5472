import Foundation
import Logging
import NIOCore
import Testing
import Tracing
import W3CTraceContext

@testable import KiteTelemetry

/// Spans encoded one by one as they end (what the batch span processor queues for the OTLP
/// exporter) must make exactly the request that encoding the records as a batch makes.
@Suite("Spans encoded as they end")
struct EncodedSpanTests {
    /// Records of every shape the encoder writes: attributes of each kind (set one by one and
    /// through the dictionary, some described by their `description`), events, links, status,
    /// trace state; every 50th has a value larger
    /// than a block starts with, every 100th from the 50th one past the length limit of ``sameBytesAsBatch()``.
    static func records(count: Int, large: Bool = true) -> [SpanRecord] {
        let ids = IDGenerator()
        let traceState = TraceState([(TraceState.Vendor(rawValue: "congo"), "t61rcWkgMzE")])
        return (0..<count).map { index in
            var attributes = SpanAttributeList()
            attributes.set("http.request.method", .string("POST"))
            attributes.set("http.response.status_code", .int64(Int64(200 + index % 5)))
            attributes.set("ratio", .double(Double(index) / 7))
            attributes.set("retry", .bool(index.isMultiple(of: 3)))
            attributes.set("note", .string(String(repeating: "ü", count: index % 40)))
            attributes.set("codes", .int32Array([1, 2, Int32(index)]))
            if index % 3 == 1 {
                // Described by the caller's code: encoded before the queue's lock is taken.
                attributes.set("described", .stringConvertible(index))
            }
            if large && index % 50 == 0 {
                // Larger than a chunk, and (every other one) than the value length limit below.
                let length = EncodedSpanBlock.initialCapacity + (index.isMultiple(of: 100) ? 10 : 5_000)
                attributes.set("large", .string(String(repeating: "x", count: length)))
            }
            let context = SpanContext(
                traceID: ids.traceID(),
                spanID: ids.spanID(),
                parentSpanID: index.isMultiple(of: 2) ? ids.spanID() : nil,
                flags: .sampled,
                traceState: index.isMultiple(of: 5) ? traceState : TraceState([])
            )
            return SpanRecord(
                name: "operation \(index)",
                kind: index.isMultiple(of: 2) ? .server : .client,
                context: context,
                startNanoseconds: 1_700_000_000_000_000_000 + UInt64(index),
                endNanoseconds: 1_700_000_000_000_001_000 + UInt64(index),
                attributeList: attributes,
                droppedAttributes: index % 3,
                events: index.isMultiple(of: 4)
                    ? [SpanEvent(name: "cache miss", at: DefaultTracerClock.now, attributes: ["key": "k\(index)", "a": 1, "b": 2])] : [],
                links: index.isMultiple(of: 7) ? [SpanRecord.Link(context: context, attributes: ["why": "retry"])] : [],
                status: index.isMultiple(of: 9) ? SpanStatus(code: .error, message: "failed \(index)") : nil
            )
        }
    }

    /// The request `OTLPTraceEncoder.encode(_:)` makes of `records`.
    static func batchRequest(_ records: [SpanRecord], _ resource: OTLPResource, _ limits: SpanLimits) -> [UInt8] {
        var encoder = OTLPTraceEncoder(resource: resource, limits: limits)
        encoder.encode(records)
        return encoder.bytes
    }

    /// An OTLP exporter that is never asked to send (its endpoint is never contacted).
    static func exporter(limits: SpanLimits = SpanLimits(), registry: MetricRegistry = MetricRegistry()) -> OTLPSpanExporter {
        OTLPSpanExporter(
            configuration: OTLPExporterConfiguration(endpoint: "http://127.0.0.1:9"),
            resource: OTLPResource(serviceName: "encoded"),
            limits: limits,
            registry: registry,
            logger: Logger(label: "test")
        )
    }

    /// `records` encoded one by one into `storage` by `exporter`; how many were dropped.
    static func add(_ records: [SpanRecord], to storage: inout EncodedSpanStorage, exporter: OTLPSpanExporter, maxQueueSize: Int) -> Int {
        var dropped = 0
        for record in records where storage.add(.init(record, exporter: exporter), maxQueueSize: maxQueueSize).dropped {
            dropped += 1
        }
        return dropped
    }

    @Test("spans encoded one by one make, batch by batch, the same requests, byte for byte, as their records encoded as batches")
    func sameBytesAsBatch() {
        let resource = OTLPResource(serviceName: "encoded", attributes: ["service.version": "1.0"])
        let limits = SpanLimits(maxAttributesPerEvent: 2, maxAttributeValueLength: EncodedSpanBlock.initialCapacity + 100)
        let records = Self.records(count: 600)

        var batchEncoder = OTLPTraceEncoder(resource: resource, limits: limits)
        let batchStats = batchEncoder.encode(records)

        var storage = EncodedSpanStorage(configuration: BatchConfiguration())
        let registry = MetricRegistry()
        let exporter = Self.exporter(limits: limits, registry: registry)
        let dropped = Self.add(records, to: &storage, exporter: exporter, maxQueueSize: 1_000)
        #expect(dropped == 0 && storage.count == 600)
        // What the limits changed is counted as the spans are encoded.
        #expect(batchStats.truncatedValues > 0 && batchStats.droppedAttributes > 0)
        #expect(seriesValue(registry, #"kite_span_limit_applied_total{action="truncated_value"}"#) == Double(batchStats.truncatedValues))
        #expect(seriesValue(registry, #"kite_span_limit_applied_total{action="dropped_attribute"}"#) == Double(batchStats.droppedAttributes))

        let taken = storage.takeAll()
        #expect(storage.count == 0)
        // Six spans larger than the block's first size: it grew.
        #expect(taken.capacity > EncodedSpanBlock.initialCapacity)
        let batches = EncodedSpanStorage.batches(of: taken, size: 256)
        #expect(batches.map(EncodedSpanStorage.count(of:)) == [256, 256, 88])
        for (batch, start) in zip(batches, [0, 256, 512]) {
            let request = OTLPTraceEncoder.request(batch, resource: resource)
            #expect(Array(request.readableBytesView) == Self.batchRequest(Array(records[start..<start + Self.count(batch)]), resource, limits))
        }
    }

    static func count(_ batch: EncodedSpanBatch) -> Int { EncodedSpanStorage.count(of: batch) }

    @Test("a full storage drops the oldest spans, keeps the newest in order, and stays the size of what it keeps")
    func dropsOldest() {
        let resource = OTLPResource(serviceName: "encoded")
        let limits = SpanLimits()
        let records = Self.records(count: 5_000, large: false)
        var storage = EncodedSpanStorage(configuration: BatchConfiguration())
        let dropped = Self.add(records, to: &storage, exporter: Self.exporter(limits: limits), maxQueueSize: 100)
        #expect(dropped == 4_900 && storage.count == 100)

        let taken = storage.takeAll()
        // 100 spans of a few hundred bytes: the dropped ones' bytes were let go as it went.
        #expect(taken.capacity == EncodedSpanBlock.initialCapacity)
        let batches = EncodedSpanStorage.batches(of: taken, size: 512)
        #expect(batches.count == 1)
        let request = OTLPTraceEncoder.request(batches[0], resource: resource)
        #expect(Array(request.readableBytesView) == Self.batchRequest(Array(records.suffix(100)), resource, limits))
    }

    @Test("an exported block comes back empty and is filled after the one that filled meanwhile; one still lent out is not kept")
    func reusesBlocks() {
        let records = Self.records(count: 10, large: false)
        var storage = EncodedSpanStorage(configuration: BatchConfiguration())
        let exporter = Self.exporter()
        func fillAndTake() -> EncodedSpanBlock {
            _ = Self.add(records, to: &storage, exporter: exporter, maxQueueSize: 100)
            return storage.takeAll()
        }
        var first = Optional(fillAndTake())
        weak let firstBlock = first
        storage.exported(&first)
        #expect(first == nil, "kept for reuse")
        let second = fillAndTake()  // filled a new block while the first was out
        #expect(second !== firstBlock)
        let third = fillAndTake()
        #expect(third === firstBlock)
        #expect(third.count == 10 && third.first == 0 && third.used == third.ends.last)

        let lent = EncodedSpanStorage.batches(of: second, size: 10)
        var lentBlock = Optional(second)
        storage.exported(&lentBlock)
        #expect(lentBlock === second, "left to be released: it is still referred to (by a batch, and here)")
        _ = fillAndTake()
        let later = fillAndTake()
        #expect(later !== lent[0].block, "a block a batch still refers to is not refilled")
        #expect(lent[0].withBytes { $0.count } == lent[0].block.used)
        withExtendedLifetime(third) {}
    }

    @Test("the OTLP exporter encodes an ended span as the batch encoder does, and counts what the limits changed")
    func exporterEncodesEndedSpans() {
        let registry = MetricRegistry()
        let limits = SpanLimits(maxAttributeValueLength: 3)
        let exporter = Self.exporter(limits: limits, registry: registry)
        let records = Self.records(count: 20)
        for record in records {
            var expectedWriter = ProtobufWriter()
            _ = OTLPTraceEncoder.encodeSpanField(record, limits: limits, into: &expectedWriter)
            let expected = expectedWriter.bytes
            var writer = ProtobufWriter()
            exporter.encodeEnded(record, into: &writer)
            #expect(writer.bytes == expected)
        }
        // Each record has `http.request.method` ("POST"), cut to 3 bytes, and more.
        let truncated = seriesValue(registry, #"kite_span_limit_applied_total{action="truncated_value"}"#) ?? 0
        #expect(truncated >= 20)
    }

    /// Every way a value described by the caller's code gets into a span.
    enum DescribedValuePath: CaseIterable, Sendable {
        case setAttribute, protocolSubscript, protocolSetter, eventAttribute, linkAttribute

        /// Puts `value` into `span` (a link goes to `linked`).
        func put(_ value: SpanAttribute, into span: KiteSpan, linking linked: ServiceContext) {
            switch self {
            case .setAttribute: span.setAttribute("described", value)
            case .protocolSubscript: span.attributes["described"] = value
            case .protocolSetter: span.attributes = ["described": value]
            case .eventAttribute: span.addEvent(SpanEvent(name: "event", attributes: ["described": value]))
            case .linkAttribute: span.addLink(SpanLink(context: linked, attributes: ["described": value]))
            }
        }
    }

    @Test("a value whose description ends a span is described outside the queue's lock", arguments: DescribedValuePath.allCases)
    func descriptionThatEndsASpan(path: DescribedValuePath) {
        let processor = BatchSpanProcessor(exporter: Self.exporter(), registry: MetricRegistry())
        let tracer = KiteTracer(sampler: ConstantSampler.alwaysOn, processor: processor)
        let span = tracer.startSpan("outer")
        let linked = tracer.startSpan("linked")  // never ended: not queued
        span.setAttribute("plain", "value")
        path.put(.stringConvertible(EndsASpan(tracer: tracer)), into: span, linking: linked.context)
        // Ended on a thread of its own: described under the queue's lock, the inner span's end
        // would wait for that lock forever, and this test fails instead of hanging.
        let ended = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            span.end()
            ended.signal()
        }
        guard ended.wait(timeout: .now() + 10) == .success else {
            Issue.record("the span's end did not return: its value was described under the queue's lock")
            return
        }
        #expect(processor.queueLength == 2)
    }

    /// A value whose description starts and ends a span.
    struct EndsASpan: CustomStringConvertible, Sendable {
        let tracer: KiteTracer
        var description: String {
            self.tracer.startSpan("inner").end()
            return "described"
        }
    }

    @Test("a batch span processor in front of the OTLP exporter queues encoded spans; the span itself is not kept")
    func processorQueuesEncodings() {
        let exporter = Self.exporter()
        let processor = BatchSpanProcessor(exporter: exporter, registry: MetricRegistry())
        weak var released: RecordingSpanCore?
        do {
            let tracer = KiteTracer(sampler: ConstantSampler.alwaysOn, processor: processor)
            let span = tracer.startSpan("queued")
            span.setAttribute("key", "value")
            released = span.core.recording
            span.end()
        }
        #expect(processor.queueLength == 1)
        #expect(released == nil, "the ended span was freed once encoded")
    }
}
