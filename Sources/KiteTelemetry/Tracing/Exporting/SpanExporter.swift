/// Sends batches of finished spans somewhere: a collector, the console, memory.
public protocol SpanExporter: Sendable {
    /// Exports one batch. Thrown errors are counted by the processor; the batch is not retried
    /// by the processor (exporters that retry do so themselves).
    func export(_ batch: [SpanRecord]) async throws

    /// Flushes anything the exporter buffers itself.
    func forceFlush() async throws

    /// Releases resources; called once, after the last export.
    func shutdown() async
}

extension SpanExporter {
    public func forceFlush() async throws {}
    public func shutdown() async {}
}
