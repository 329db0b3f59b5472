import ServiceLifecycle
import Synchronization

/// A bounded queue of finished records (spans, log records) that a background loop exports in
/// batches: the part of the batch span processor and the batch log record processor they share.
///
/// ``add(_:)`` appends under a short lock and returns; nothing on the request's path waits for an
/// exporter. When the queue is full (the collector slow or down), the *oldest* record is dropped
/// and counted, so memory stays bounded and what is exported after an outage is the most recent.
/// ``run()`` sleeps without a timer while the queue is empty; after a record arrives it wakes
/// when `maxExportBatchSize` records are waiting or `scheduleDelay` has passed, and exports
/// everything waiting in batches; on graceful shutdown it exports what is left.
///
/// The queue is a plain array while it has room; once full it becomes a ring whose oldest slot the
/// next record overwrites. The exporting side never holds the lock for longer than a swap: it
/// exchanges the whole array for an empty one and cuts batches from what it took outside the
/// lock (when it took one batch or less — the usual case — the array itself is the batch).
///
/// Exported records are released by the threads that add records, two per record they add, not by
/// the exporting task: the memory of a span is then freed by a thread that allocates spans, from
/// and into its allocator's per-thread cache. Freed on the exporting thread, every record took the
/// allocator's lock against the request threads' allocations: a sampled span with five attributes
/// took twice as long (1.05 against 0.51 µs in the benchmark, two cores). What the adding threads
/// have not released by the next export, that export releases. So at most `maxQueueSize` records
/// wait, plus those taken for the export under way, plus those of the last export until they are
/// released.
final class BatchExportQueue<Record: Sendable>: Sendable {
    /// The metric names of one kind of record.
    struct MetricNames: Sendable {
        /// `kite_span_processor` or `kite_log_record_processor`.
        var processor: String
        /// `kite_span_exporter` or `kite_log_record_exporter`.
        var exporter: String
        /// `spans` or `records`.
        var unit: String
        /// `Finished spans` or `Log records`, to start help texts.
        var what: String
    }

    let configuration: BatchConfiguration
    private let export: @Sendable ([Record]) async throws -> Void
    private let state: Mutex<State>
    private let dropped: Counter
    private let exported: Counter
    private let failed: Counter

    private struct State: ~Copyable {
        var queue: [Record]
        /// Where the oldest record is once the queue is full (and the next one goes).
        var oldest = 0
        /// Exported records, released by the threads that add records (see ``add(_:)``).
        var spent: [Record] = []
        var waiter: CheckedContinuation<Void, Never>?
        var signalled = false
        /// The run loop waits for the first record into an empty queue (no timer runs meanwhile).
        var idle = false
    }

    init(
        configuration: BatchConfiguration,
        registry: MetricRegistry,
        names: MetricNames,
        export: @escaping @Sendable ([Record]) async throws -> Void
    ) {
        self.configuration = configuration
        self.export = export
        self.state = Mutex(State(queue: Self.emptyQueue(configuration)))
        self.dropped = registry.counter(
            "\(names.processor)_dropped_\(names.unit)_total",
            help: "\(names.what) dropped, oldest first, because the batch queue was full."
        ).labels()
        self.exported = registry.counter(
            "\(names.exporter)_exported_\(names.unit)_total",
            help: "\(names.what) handed to the exporter successfully."
        ).labels()
        self.failed = registry.counter(
            "\(names.exporter)_failed_\(names.unit)_total",
            help: "\(names.what) in batches the exporter failed to export (error or timeout)."
        ).labels()
        let queueLength = registry.gauge(
            "\(names.processor)_queue_length",
            help: "\(names.what) waiting in the batch queue."
        ).labels()
        registry.gauge(
            "\(names.processor)_queue_capacity",
            help: "The most \(names.what.lowercased()) the batch queue holds."
        ).labels().set(Double(configuration.maxQueueSize))
        registry.addCollectHook { [weak self] in
            guard let self else { return }
            queueLength.set(Double(self.queueLength))
        }
    }

    /// Records waiting to be exported.
    var queueLength: Int {
        self.state.withLock { $0.queue.count }
    }

    /// Queues a record, dropping the oldest when full; wakes the run loop when a batch is ready.
    func add(_ record: consuming Record) {
        // Moved into the queue, not copied: the closure takes it out of the optional.
        var pending = Optional(record)
        // Two exported records leave the lock with this call (`spent`), to be released on this
        // thread once the lock is let go.
        let (full, waiter, spent): (Bool, CheckedContinuation<Void, Never>?, (Record?, Record?)) = self.state.withLock { state in
            guard var incoming = pending.take() else { return (false, nil, (nil, nil)) }
            let spent = (state.spent.popLast(), state.spent.popLast())
            guard state.queue.count < self.configuration.maxQueueSize else {
                // Full: the record takes the oldest one's slot; the oldest leaves (and is
                // released after the lock, in `pending`).
                swap(&state.queue[state.oldest], &incoming)
                state.oldest = (state.oldest + 1) % state.queue.count
                pending = consume incoming
                return (true, nil, spent)
            }
            state.queue.append(consume incoming)
            guard state.idle || state.queue.count == self.configuration.maxExportBatchSize else { return (false, nil, spent) }
            return (false, Self.takeWaiter(&state), spent)
        }
        withExtendedLifetime(spent) {}  // released here, outside the lock
        if full { self.dropped.increment() }
        waiter?.resume()
    }

    /// Exports everything waiting now.
    func forceFlush() async {
        while await self.exportWaiting() {}
    }

    /// Exports batches until graceful shutdown or cancellation, then exports what is left.
    func run() async {
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                await self.waitForWork()
                await self.exportWaiting()
            }
        } onGracefulShutdown: {
            self.wake()
        }
        await self.forceFlush()
    }

    /// Takes everything waiting and exports it in batches, oldest first; returns whether there
    /// was anything.
    @discardableResult
    private func exportWaiting() async -> Bool {
        guard !self.state.withLock({ $0.queue.isEmpty }) else { return false }
        var taken = Self.emptyQueue(self.configuration)
        let oldest = self.state.withLock { state in
            swap(&taken, &state.queue)
            defer { state.oldest = 0 }
            return state.oldest
        }
        // Another flush may have taken it between the two looks.
        guard !taken.isEmpty else { return false }
        if oldest != 0 {
            // The queue wrapped: put it back in order (only after records were dropped).
            taken = Array(taken[oldest...] + taken[..<oldest])
        }
        let batchSize = self.configuration.maxExportBatchSize
        if taken.count <= batchSize {
            await self.exportBatch(taken)
        } else {
            for start in stride(from: 0, to: taken.count, by: batchSize) {
                await self.exportBatch(Array(taken[start..<min(start + batchSize, taken.count)]))
            }
        }
        // The exported records go back to the threads that add records, which release two per
        // record they add: memory is then freed by the threads that allocate it, whose
        // allocator caches take it without a lock (freed here, each record would take the
        // allocator's lock against those threads' allocations). What they have not released by
        // the next export is released here, when `taken` goes.
        self.state.withLock { state in swap(&state.spent, &taken) }
        return true
    }

    /// An empty queue with room for one batch of at most 512 records: it grows as records
    /// arrive (up to `maxQueueSize`), so a large configured maximum costs nothing until it fills.
    private static func emptyQueue(_ configuration: BatchConfiguration) -> [Record] {
        var queue: [Record] = []
        queue.reserveCapacity(min(configuration.maxExportBatchSize, 512))
        return queue
    }

    private func exportBatch(_ batch: [Record]) async {
        let export = self.export
        let timeout = self.configuration.exportTimeout
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await export(batch) }
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

    /// Waits until there is something to export: first, without any timer, for a record in an
    /// empty queue (an idle process does not wake at all, whatever `scheduleDelay` is); then until
    /// a full batch is waiting or `scheduleDelay` has passed. Shutdown or cancellation end either
    /// wait.
    private func waitForWork() async {
        await self.waitForSignal { state in
            guard state.queue.isEmpty else { return true }
            state.idle = true
            return false
        }
        if Task.isCancelled || Task.isShuttingDownGracefully { return }
        // Under load a full batch is often waiting already: then no timer task is started (each
        // one wakes a thread twice, to sleep and to be cancelled).
        if self.state.withLock({ $0.queue.count >= self.configuration.maxExportBatchSize }) { return }
        let delay = self.configuration.scheduleDelay
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    try await Task.sleep(for: delay)
                    self.wake()
                } catch {}
            }
            await self.waitForSignal { state in state.queue.count >= self.configuration.maxExportBatchSize }
            group.cancelAll()
        }
    }

    /// Suspends until ``wake()`` (or `add` waking the loop), unless `ready` — called under the
    /// lock, where it may also note what the loop waits for — says there is no need to.
    private func waitForSignal(_ ready: @escaping @Sendable (inout State) -> Bool) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = self.state.withLock { state -> Bool in
                    if state.signalled || ready(&state) {
                        state.signalled = false
                        state.idle = false
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
    }

    private func wake() {
        self.state.withLock { Self.takeWaiter(&$0) }?.resume()
    }

    /// Takes the waiting run loop's continuation, or leaves a signal for its next wait.
    private static func takeWaiter(_ state: inout State) -> CheckedContinuation<Void, Never>? {
        state.idle = false
        guard let waiter = state.waiter else {
            state.signalled = true
            return nil
        }
        state.waiter = nil
        return waiter
    }

    private struct ExportTimeout: Error {}
}
