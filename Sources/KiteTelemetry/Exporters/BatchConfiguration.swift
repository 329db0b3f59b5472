/// Queue and batch settings of a batch processor (spans: `OTEL_BSP_*`; log records: `OTEL_BLRP_*`),
/// defaults from the OpenTelemetry specification for spans.
public struct BatchConfiguration: Sendable, Hashable {
    /// The largest queue a configuration may ask for (1,048,576 records). Queues grow as records
    /// arrive, so a large maximum costs nothing until it fills; past this size a full queue would
    /// hold hundreds of megabytes.
    public static let largestQueueSize = 1 << 20

    /// Records waiting for export before the oldest are dropped (`OTEL_BSP_MAX_QUEUE_SIZE`, default 2048).
    public var maxQueueSize: Int
    /// Records per export (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, default 512).
    public var maxExportBatchSize: Int
    /// Time from the first record into an empty queue to its export when no full batch is waiting
    /// sooner (`OTEL_BSP_SCHEDULE_DELAY`, default 5 s).
    public var scheduleDelay: Duration
    /// Time one export may take, retries included (`OTEL_BSP_EXPORT_TIMEOUT`, default 30 s).
    public var exportTimeout: Duration

    /// Creates a configuration; sizes are kept within 1…``largestQueueSize``, a batch is at most
    /// the queue size, and the delay and timeout are at least 1 ms.
    public init(
        maxQueueSize: Int = 2048,
        maxExportBatchSize: Int = 512,
        scheduleDelay: Duration = .seconds(5),
        exportTimeout: Duration = .seconds(30)
    ) {
        self.maxQueueSize = min(max(maxQueueSize, 1), Self.largestQueueSize)
        self.maxExportBatchSize = min(max(maxExportBatchSize, 1), self.maxQueueSize)
        self.scheduleDelay = max(scheduleDelay, .milliseconds(1))
        self.exportTimeout = max(exportTimeout, .milliseconds(1))
    }

    /// `defaults` with the `<prefix>SCHEDULE_DELAY`, `EXPORT_TIMEOUT`, `MAX_QUEUE_SIZE` and
    /// `MAX_EXPORT_BATCH_SIZE` variables applied; unusable values keep the default, with a warning.
    static func fromEnvironment(_ reader: inout EnvironmentReader, prefix: String, defaults: BatchConfiguration) -> BatchConfiguration {
        let queueSize = reader.integer(prefix + "MAX_QUEUE_SIZE", in: 1...Self.largestQueueSize, default: defaults.maxQueueSize)
        // A batch larger than the queue could never fill: the queue size is used.
        let batchSize = reader.integer(
            prefix + "MAX_EXPORT_BATCH_SIZE",
            in: 1...queueSize,
            default: min(defaults.maxExportBatchSize, queueSize)
        )
        return BatchConfiguration(
            maxQueueSize: queueSize,
            maxExportBatchSize: batchSize,
            scheduleDelay: reader.milliseconds(prefix + "SCHEDULE_DELAY", default: defaults.scheduleDelay),
            exportTimeout: reader.milliseconds(prefix + "EXPORT_TIMEOUT", default: defaults.exportTimeout)
        )
    }
}
