import ServiceLifecycle
import Synchronization

/// Queues finished spans and exports them in batches from a background task.
///
/// ``onEnd(_:)`` appends to a bounded queue under a short lock and returns; nothing on the
/// request's path waits for an exporter. When the queue is full the new span is dropped and
/// counted (`kite_span_processor_dropped_spans_total`). The ``run()`` loop (a swift-service-lifecycle
/// `Service`) exports a batch whenever `maxExportBatchSize` spans are waiting or `scheduleDelay`
/// has passed, and everything left on graceful shutdown.
public final class BatchSpanProcessor: SpanProcessor, Service {
    /// Queue and batch settings; defaults and `OTEL_BSP_*` names from the OpenTelemetry specification.
    public struct Configuration: Sendable {
        /// `OTEL_BSP_MAX_QUEUE_SIZE`, default 2048.
        public var maxQueueSize: Int
        /// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, default 512.
        public var maxExportBatchSize: Int
        /// `OTEL_BSP_SCHEDULE_DELAY`, default 5 s.
        public var scheduleDelay: Duration
        /// `OTEL_BSP_EXPORT_TIMEOUT`, default 30 s.
        public var exportTimeout: Duration

        /// Creates a configuration.
        public init(
            maxQueueSize: Int = 2048,
            maxExportBatchSize: Int = 512,
            scheduleDelay: Duration = .seconds(5),
            exportTimeout: Duration = .seconds(30)
        ) {
            self.maxQueueSize = max(maxQueueSize, 1)
            self.maxExportBatchSize = min(max(maxExportBatchSize, 1), self.maxQueueSize)
            self.scheduleDelay = scheduleDelay
            self.exportTimeout = exportTimeout
        }
    }

    /// The settings in use.
    public let configuration: Configuration
    private let exporter: any SpanExporter
    private let state: Mutex<State>
    private let dropped: Counter
    private let exported: Counter
    private let failed: Counter

    private struct State: ~Copyable {
        var queue: [SpanRecord] = []
        var waiter: CheckedContinuation<Void, Never>?
        var signalled = false
    }

    /// Creates a processor.
    /// - Parameters:
    ///   - exporter: Where batches go.
    ///   - configuration: Queue and batch settings.
    ///   - registry: Where the processor's own metrics go.
    public init(exporter: any SpanExporter, configuration: Configuration = .init(), registry: MetricRegistry) {
        self.exporter = exporter
        self.configuration = configuration
        var state = State()
        state.queue.reserveCapacity(configuration.maxQueueSize)
        self.state = Mutex(state)
        self.dropped = registry.counter(
            "kite_span_processor_dropped_spans_total",
            help: "Finished spans dropped because the batch queue was full."
        ).labels()
        self.exported = registry.counter(
            "kite_span_exporter_exported_spans_total",
            help: "Spans handed to the exporter successfully."
        ).labels()
        self.failed = registry.counter(
            "kite_span_exporter_failed_spans_total",
            help: "Spans in batches the exporter failed to export (error or timeout)."
        ).labels()
        let queueLength = registry.gauge(
            "kite_span_processor_queue_length",
            help: "Finished spans waiting in the batch queue."
        ).labels()
        registry.gauge(
            "kite_span_processor_queue_capacity",
            help: "The most finished spans the batch queue holds."
        ).labels().set(Double(configuration.maxQueueSize))
        registry.addCollectHook { [weak self] in
            guard let self else { return }
            queueLength.set(Double(self.queueLength))
        }
    }

    /// Spans waiting to be exported.
    public var queueLength: Int {
        self.state.withLock { $0.queue.count }
    }

    public func onEnd(_ span: SpanRecord) {
        let (accepted, waiter): (Bool, CheckedContinuation<Void, Never>?) = self.state.withLock { state in
            guard state.queue.count < self.configuration.maxQueueSize else { return (false, nil) }
            state.queue.append(span)
            guard state.queue.count == self.configuration.maxExportBatchSize else { return (true, nil) }
            return (true, Self.takeWaiter(&state))
        }
        if !accepted { self.dropped.increment() }
        waiter?.resume()
    }

    public func forceFlush() async {
        while let batch = self.takeBatch(minimum: 1) {
            await self.export(batch)
        }
    }

    /// Exports batches until graceful shutdown or cancellation, then exports what is left.
    public func run() async throws {
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                await self.waitForWork()
                while let batch = self.takeBatch(minimum: self.configuration.maxExportBatchSize) {
                    await self.export(batch)
                }
                if let batch = self.takeBatch(minimum: 1) {
                    await self.export(batch)
                }
            }
        } onGracefulShutdown: {
            self.wake()
        }
        await self.forceFlush()
        await self.exporter.shutdown()
    }

    private func takeBatch(minimum: Int) -> [SpanRecord]? {
        self.state.withLock { state in
            guard state.queue.count >= minimum, !state.queue.isEmpty else { return nil }
            if state.queue.count <= self.configuration.maxExportBatchSize {
                // Hand the whole queue over without copying a record.
                var batch: [SpanRecord] = []
                batch.reserveCapacity(self.configuration.maxExportBatchSize)
                swap(&batch, &state.queue)
                return batch
            }
            let count = self.configuration.maxExportBatchSize
            let batch = Array(state.queue.prefix(count))
            state.queue.removeFirst(count)
            return batch
        }
    }

    private func export(_ batch: [SpanRecord]) async {
        let exporter = self.exporter
        let timeout = self.configuration.exportTimeout
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await exporter.export(batch) }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw ExportTimeout()
                }
                try await group.next()
                group.cancelAll()
            }
            self.exported.increment(by: batch.count)
        } catch {
            self.failed.increment(by: batch.count)
        }
    }

    /// Sleeps until a full batch is waiting, `scheduleDelay` passes, shutdown or cancellation.
    private func waitForWork() async {
        let delay = self.configuration.scheduleDelay
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    try await Task.sleep(for: delay)
                    self.wake()
                } catch {}
            }
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let resumeNow = self.state.withLock { state -> Bool in
                        if state.signalled || state.queue.count >= self.configuration.maxExportBatchSize {
                            state.signalled = false
                            return true
                        }
                        state.waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                self.wake()
            }
            group.cancelAll()
        }
    }

    private func wake() {
        self.state.withLock { Self.takeWaiter(&$0) }?.resume()
    }

    /// Takes the waiting run loop's continuation, or leaves a signal for its next wait.
    private static func takeWaiter(_ state: inout State) -> CheckedContinuation<Void, Never>? {
        guard let waiter = state.waiter else {
            state.signalled = true
            return nil
        }
        state.waiter = nil
        return waiter
    }

    private struct ExportTimeout: Error {}
}
