/// Sends batches of log records somewhere: a collector, memory.
public protocol LogRecordExporter: Sendable {
    /// Exports one batch. Thrown errors are counted by the processor; the batch is not retried
    /// by the processor (exporters that retry do so themselves).
    func export(_ batch: [LogRecord]) async throws
}
