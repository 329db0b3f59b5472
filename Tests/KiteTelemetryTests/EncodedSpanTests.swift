import Logging
import Testing
import Tracing
import W3CTraceContext

@testable import KiteTelemetry

/// Spans encoded one by one as they end (what the batch span processor queues for the OTLP
/// exporter) must make exactly the request that encoding the records as a batch makes.
@Suite("Spans encoded as they end")
struct EncodedSpanTests {
    /// Records of every shape the encoder writes: attributes of each kind (set one by one and
    /// through the dictionary), events, links, status, trace state; every 50th has a value larger
    /// than a chunk, every 100th from the 50th one past the length limit of ``sameBytesAsBatch()``.
    static func records(count: Int) -> [SpanRecord] {
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
            if index % 50 == 0 {
                // Larger than a chunk, and (every other one) than the value length limit below.
                let length = EncodedSpanChunk.standardCapacity + (index.isMultiple(of: 100) ? 10 : 5_000)
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

    @Test("spans encoded one by one into chunks make the same request, byte for byte, as the records encoded as a batch")
    func sameBytesAsBatch() {
        let resource = OTLPResource(serviceName: "encoded", attributes: ["service.version": "1.0"])
        let limits = SpanLimits(maxAttributesPerEvent: 2, maxAttributeValueLength: EncodedSpanChunk.standardCapacity + 100)
        let records = Self.records(count: 600)

        var batchEncoder = OTLPTraceEncoder(resource: resource, limits: limits)
        let batchStats = batchEncoder.encode(records)
        let expected = batchEncoder.bytes

        var appender = EncodedSpanAppender()
        var stats = OTLPTraceEncoder.Stats()
        let encoded = records.map { record in
            ProtobufWriter.withScratchWriter { writer in
                let spanStats = OTLPTraceEncoder.encodeSpanField(record, limits: limits, into: &writer)
                stats.truncatedValues += spanStats.truncatedValues
                stats.droppedAttributes += spanStats.droppedAttributes
                return writer.withBytes { appender.append($0) }
            }
        }
        var encoder = OTLPTraceEncoder(resource: resource, limits: limits)
        encoder.encode(encoded)

        #expect(encoder.bytes == expected)
        #expect(stats == batchStats)
        #expect(stats.truncatedValues > 0 && stats.droppedAttributes > 0)
        // The spans filled several chunks, and each large one has a chunk of its own.
        let chunks = Set(encoded.map { ObjectIdentifier($0.chunk) })
        #expect(chunks.count > 12)
        for (index, span) in encoded.enumerated() where index % 50 == 0 {
            #expect(span.offset == 0 && span.chunk.capacity == span.count, "span \(index)")
        }
        // Spans in one chunk lie back to back, in the order they were appended.
        for (previous, span) in zip(encoded, encoded.dropFirst()) where previous.chunk === span.chunk {
            #expect(span.offset == previous.offset + previous.count)
        }
    }

    @Test("the OTLP exporter encodes an ended span as the batch encoder does, and counts what the limits changed")
    func exporterEncodesEndedSpans() {
        let registry = MetricRegistry()
        let limits = SpanLimits(maxAttributeValueLength: 3)
        let exporter = OTLPSpanExporter(
            configuration: OTLPExporterConfiguration(endpoint: "http://127.0.0.1:9"),
            resource: OTLPResource(serviceName: "encoded"),
            limits: limits,
            registry: registry,
            logger: Logger(label: "test")
        )
        let records = Self.records(count: 20)
        let encoded = records.map { exporter.encodeEnded($0) }
        for (record, span) in zip(records, encoded) {
            let expected = ProtobufWriter.withScratchWriter { writer in
                _ = OTLPTraceEncoder.encodeSpanField(record, limits: limits, into: &writer)
                return writer.withBytes { Array($0) }
            }
            #expect(span.withBytes { Array($0) } == expected)
        }
        // Each record has `http.request.method` ("POST"), cut to 3 bytes, and more.
        let truncated = seriesValue(registry, #"kite_span_limit_applied_total{action="truncated_value"}"#) ?? 0
        #expect(truncated >= 20)
    }

    @Test("a batch span processor in front of the OTLP exporter queues encoded spans; the span itself is not kept")
    func processorQueuesEncodings() {
        let exporter = OTLPSpanExporter(
            configuration: OTLPExporterConfiguration(endpoint: "http://127.0.0.1:9"),
            resource: OTLPResource(serviceName: "encoded"),
            registry: MetricRegistry(),
            logger: Logger(label: "test")
        )
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
