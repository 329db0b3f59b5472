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

    /// What the processor queues: the records themselves, or their encodings.
    private enum Queue: Sendable {
        case records(BatchExportQueue<RecordQueueStorage<SpanRecord>>)
        case encoded(BatchExportQueue<EncodedSpanStorage>, any SpanEncodingExporter)
    }

    /// The settings in use.
    public let configuration: Configuration
    private let exporter: any SpanExporter
    private let queue: Queue

    /// Creates a processor.
    /// - Parameters:
    ///   - exporter: Where batches go.
    ///   - configuration: Queue and batch settings.
    ///   - registry: Where the processor's own metrics go.
    public init(exporter: any SpanExporter, configuration: Configuration = .init(), registry: MetricRegistry) {
        self.exporter = exporter
        self.configuration = configuration
        if let encoding = exporter as? any SpanEncodingExporter {
            self.queue = .encoded(Self.makeQueue(configuration, registry) { try await encoding.export(encoded: $0) }, encoding)
        } else {
            self.queue = .records(Self.makeQueue(configuration, registry) { try await exporter.export($0) })
        }
    }

    private static func makeQueue<Storage>(
        _ configuration: Configuration,
        _ registry: MetricRegistry,
        export: @escaping @Sendable (Storage.Batch) async throws -> Void
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
        switch self.queue {
        case .records(let queue): queue.queueLength
        case .encoded(let queue, _): queue.queueLength
        }
    }

    public func onEnd(_ span: consuming SpanRecord) {
        switch self.queue {
        case .records(let queue): queue.add(span)
        case .encoded(let queue, let exporter): queue.add(EncodedSpanStorage.Ended(span, exporter: exporter))
        }
    }

    public func forceFlush() async {
        switch self.queue {
        case .records(let queue): await queue.forceFlush()
        case .encoded(let queue, _): await queue.forceFlush()
        }
    }

    /// Exports batches until graceful shutdown or cancellation, then exports what is left and
    /// shuts the exporter down.
    public func run() async throws {
        switch self.queue {
        case .records(let queue): await queue.run()
        case .encoded(let queue, _): await queue.run()
        }
        await self.exporter.shutdown()
    }
}
