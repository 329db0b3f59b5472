import ServiceLifecycle

/// Queues finished spans and exports them in batches from a background task.
///
/// ``onEnd(_:)`` appends to a bounded queue under a short lock and returns; nothing on the
/// request's path waits for an exporter. When the queue is full the oldest span is dropped and
/// counted (`kite_span_processor_dropped_spans_total`) — the specification's processor drops the
/// newest instead; Kite keeps the most recent spans, which matter most after an outage. The
/// ``run()`` loop (a swift-service-lifecycle `Service`) exports a batch whenever
/// `maxExportBatchSize` spans are waiting or `scheduleDelay` has passed, and everything left on
/// graceful shutdown.
///
/// In front of an ``OTLPSpanExporter``, ``onEnd(_:)`` also encodes the span — a few hundred
/// nanoseconds on the thread that ends it, straight into the queue's memory under its lock (a
/// span whose values are described by the caller's code is encoded before the lock is taken) —
/// and the queue holds the encoded bytes, so the span is freed at once by the thread that
/// allocated it. The export then only copies a batch's bytes into its request. Queueing the
/// records instead, encoding them on the exporting thread and freeing them a batch later cost
/// more CPU per span end to end (see the README's performance section). The queue's size,
/// batches, drops and metrics are the same either way.
public final class BatchSpanProcessor: SpanProcessor, Service {
    /// Queue and batch settings (`OTEL_BSP_*`).
    public typealias Configuration = BatchConfiguration

    /// The settings in use.
    public let configuration: Configuration
    private let exporter: any SpanExporter
    // What the processor queues: the records themselves, or — in front of an exporter that
    // encodes spans as they end — their encodings; exactly one of the two queues is set. Stored
    // properties rather than an enum: a span's end reads its queue without retaining it (a
    // payload taken out of an enum was retained and released at every span's end).
    private let records: BatchExportQueue<RecordQueueStorage<SpanRecord>>?
    private let encoded: BatchExportQueue<EncodedSpanStorage>?
    private let encoder: (any SpanEncodingExporter)?

    /// Creates a processor.
    /// - Parameters:
    ///   - exporter: Where batches go.
    ///   - configuration: Queue and batch settings.
    ///   - registry: Where the processor's own metrics go.
    public init(exporter: any SpanExporter, configuration: Configuration = .init(), registry: MetricRegistry) {
        self.exporter = exporter
        self.configuration = configuration
        if let encoding = exporter as? any SpanEncodingExporter {
            self.records = nil
            self.encoded = Self.makeQueue(configuration, registry, .bounded { try await encoding.export(encoded: $0, within: $1) })
            self.encoder = encoding
        } else {
            self.records = Self.makeQueue(configuration, registry, .unbounded { try await exporter.export($0) })
            self.encoded = nil
            self.encoder = nil
        }
    }

    private static func makeQueue<Storage>(
        _ configuration: Configuration,
        _ registry: MetricRegistry,
        _ export: BatchExportQueue<Storage>.ExportCall
    ) -> BatchExportQueue<Storage> {
        BatchExportQueue(
            configuration: configuration,
            registry: registry,
            names: .init(processor: "kite_span_processor", exporter: "kite_span_exporter", unit: "spans", what: "Finished spans"),
            export: export
        )
    }

    /// Spans waiting to be exported.
    public var queueLength: Int {
        self.records?.queueLength ?? self.encoded?.queueLength ?? 0
    }

    public func onEnd(_ span: consuming SpanRecord) {
        // Optional chaining on the stored queue, not `if let`: a bound copy was retained.
        guard let encoder = self.encoder else {
            self.records?.add(span)
            return
        }
        self.encoded?.add(EncodedSpanStorage.Ended(span, exporter: encoder))
    }

    public func forceFlush() async {
        await self.records?.forceFlush()
        await self.encoded?.forceFlush()
    }

    /// Exports batches until graceful shutdown or cancellation, then exports what is left and
    /// shuts the exporter down.
    public func run() async throws {
        if let records = self.records { await records.run() }
        if let encoded = self.encoded { await encoded.run() }
        await self.exporter.shutdown()
    }
}
