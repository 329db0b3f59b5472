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
public final class BatchSpanProcessor: SpanProcessor, Service {
    /// Queue and batch settings (`OTEL_BSP_*`).
    public typealias Configuration = BatchConfiguration

    /// The settings in use.
    public var configuration: Configuration { self.queue.configuration }
    private let exporter: any SpanExporter
    private let queue: BatchExportQueue<SpanRecord>

    /// Creates a processor.
    /// - Parameters:
    ///   - exporter: Where batches go.
    ///   - configuration: Queue and batch settings.
    ///   - registry: Where the processor's own metrics go.
    public init(exporter: any SpanExporter, configuration: Configuration = .init(), registry: MetricRegistry) {
        self.exporter = exporter
        self.queue = BatchExportQueue(
            configuration: configuration,
            registry: registry,
            names: .init(processor: "kite_span_processor", exporter: "kite_span_exporter", unit: "spans", what: "Finished spans"),
            export: { try await exporter.export($0) }
        )
    }

    /// Spans waiting to be exported.
    public var queueLength: Int { self.queue.queueLength }

    public func onEnd(_ span: consuming SpanRecord) {
        self.queue.add(span)
    }

    public func forceFlush() async {
        await self.queue.forceFlush()
    }

    /// Exports batches until graceful shutdown or cancellation, then exports what is left and
    /// shuts the exporter down.
    public func run() async throws {
        await self.queue.run()
        await self.exporter.shutdown()
    }
}
