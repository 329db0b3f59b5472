import ServiceLifecycle

/// Queues log records and exports them in batches from a background task — the log-record twin
/// of ``BatchSpanProcessor``.
///
/// ``KiteLogHandler`` hands it each record it logs; ``add(_:)`` appends to a bounded queue under a
/// short lock and returns. When the queue is full the oldest record is dropped and counted
/// (`kite_log_record_processor_dropped_records_total`).
public final class BatchLogRecordProcessor: LogRecordProcessor, Service {
    private let queue: BatchExportQueue<RecordQueueStorage<LogRecord>>

    /// Creates a processor.
    /// - Parameters:
    ///   - exporter: Where batches go.
    ///   - configuration: Queue and batch settings (`OTEL_BLRP_*`).
    ///   - registry: Where the processor's own metrics go.
    public init(exporter: any LogRecordExporter, configuration: BatchConfiguration, registry: MetricRegistry) {
        self.queue = BatchExportQueue(
            configuration: configuration,
            registry: registry,
            names: .init(processor: "kite_log_record_processor", exporter: "kite_log_record_exporter", unit: "records", what: "Log records"),
            // Kite's OTLP exporter keeps to the export timeout itself (see `BatchExportQueue`).
            export: (exporter as? OTLPLogRecordExporter).map { otlp in .bounded { try await otlp.export($0, within: $1) } }
                ?? .unbounded { try await exporter.export($0) }
        )
    }

    /// The settings in use.
    public var configuration: BatchConfiguration { self.queue.configuration }

    /// Records waiting to be exported.
    public var queueLength: Int { self.queue.queueLength }

    /// Queues one record.
    public func add(_ record: LogRecord) {
        self.queue.add(record)
    }

    /// Exports everything waiting now.
    public func forceFlush() async {
        await self.queue.forceFlush()
    }

    /// Exports batches until graceful shutdown or cancellation, then exports what is left.
    public func run() async throws {
        await self.queue.run()
    }
}
