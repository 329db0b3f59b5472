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
/// What waits is kept by a ``BatchQueueStorage``: the records themselves
/// (``RecordQueueStorage``), or spans already encoded for OTLP (``EncodedSpanStorage``). The
/// exporting side never holds the lock for longer than a swap: it takes everything waiting at
/// once and cuts batches from it outside the lock.
///
/// An export may take `exportTimeout` at most. An exporter that keeps to a time it is given
/// itself (Kite's OTLP exporters: their transport fails a request at its deadline) is called
/// with the timeout and nothing else (``ExportCall/bounded(_:)``); any other is raced against a
/// timer and cancelled when the timer wins (``ExportCall/unbounded(_:)``) — a task group, a second
/// task and a timer per export, which at a few hundred exports a second cost about a tenth of a
/// span's CPU end to end.
final class BatchExportQueue<Storage: BatchQueueStorage>: Sendable {
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

    /// How the queue calls its exporter, and who keeps an export to `exportTimeout`.
    enum ExportCall: Sendable {
        /// An exporter that may take any time: each export runs beside a timer, and is cancelled
        /// (and counted as failed) when `exportTimeout` passes first.
        case unbounded(@Sendable (Storage.Batch) async throws -> Void)
        /// An exporter that ends each export within the time it is given, failing it then: called
        /// directly, with `exportTimeout`.
        case bounded(@Sendable (Storage.Batch, Duration) async throws -> Void)
    }

    let configuration: BatchConfiguration
    private let export: ExportCall
    private let state: Mutex<State>
    private let dropped: Counter
    private let exported: Counter
    private let failed: Counter

    private struct State: ~Copyable {
        var storage: Storage
        var waiter: CheckedContinuation<Void, Never>?
        var signalled = false
        /// The run loop waits for the first record into an empty queue (no timer runs meanwhile).
        var idle = false
        /// When the run loop, waiting for a full batch, exports what it has anyway; `nil` while
        /// it does not wait for one. Each one armed is later than the one before.
        var flushDeadline: ContinuousClock.Instant?
        /// The flush timer, waiting for a deadline to be armed.
        var timerWaiter: CheckedContinuation<Void, Never>?
        /// Set when the flush timer is cancelled, so that it does not start waiting after that.
        var timerStopped = false
    }

    init(
        configuration: BatchConfiguration,
        registry: MetricRegistry,
        names: MetricNames,
        export: ExportCall
    ) {
        self.configuration = configuration
        self.export = export
        self.state = Mutex(State(storage: Storage(configuration: configuration)))
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
        self.state.withLock { $0.storage.count }
    }

    /// Queues a record, dropping the oldest when full; wakes the run loop when a batch is ready.
    func add(_ item: consuming Storage.Item) {
        // Moved into the storage, not copied: the closure takes it out of the optional.
        var pending = Optional(item)
        // What the storage gives back to release leaves the lock with this call, and is released
        // on this thread once the lock is let go.
        let (full, waiter, released): (Bool, CheckedContinuation<Void, Never>?, Storage.Released?) = self.state.withLock { state in
            guard let incoming = pending.take() else { return (false, nil, nil) }
            let (dropped, released) = state.storage.add(incoming, maxQueueSize: self.configuration.maxQueueSize)
            guard !dropped else { return (true, nil, released) }
            guard state.idle || state.storage.count == self.configuration.maxExportBatchSize else { return (false, nil, released) }
            return (false, Self.takeWaiter(&state), released)
        }
        withExtendedLifetime(released) {}  // released here, outside the lock
        if full { self.dropped.increment() }
        waiter?.resume()
    }

    /// Exports everything waiting now.
    func forceFlush() async {
        while await self.exportWaiting() {}
    }

    /// Exports batches until graceful shutdown or cancellation, then exports what is left.
    func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.runFlushTimer() }
            await withGracefulShutdownHandler {
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    await self.waitForWork()
                    await self.exportWaiting()
                }
            } onGracefulShutdown: {
                self.wake()
            }
            group.cancelAll()
        }
        await self.forceFlush()
    }

    /// Takes everything waiting and exports it in batches, oldest first; returns whether there
    /// was anything.
    @discardableResult
    private func exportWaiting() async -> Bool {
        guard let taken = self.state.withLock({ $0.storage.count == 0 ? nil : $0.storage.takeAll() }) else { return false }
        for batch in Storage.batches(of: taken, size: self.configuration.maxExportBatchSize) {
            await self.exportBatch(batch)
        }
        // The storage gets back what was exported (records to release where it is best, memory to
        // reuse); what it lets go of is released here, outside the lock.
        var returned = Optional(consume taken)  // handed back, not copied: storage may reuse it
        self.state.withLock { $0.storage.exported(&returned) }
        withExtendedLifetime(returned) {}
        return true
    }

    private func exportBatch(_ batch: Storage.Batch) async {
        let timeout = self.configuration.exportTimeout
        do {
            switch self.export {
            case .bounded(let export):
                try await export(batch, timeout)
            case .unbounded(let export):
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await export(batch) }
                    group.addTask {
                        // Sliced: this timer is cancelled at nearly every export (see `SlicedSleep`).
                        try await SlicedSleep.sleep(for: timeout)
                        throw ExportTimeout()
                    }
                    try await group.next()
                    group.cancelAll()
                }
            }
            self.exported.increment(by: Storage.count(of: batch))
        } catch {
            self.failed.increment(by: Storage.count(of: batch))
        }
    }

    /// Waits until there is something to export: first, without any timer, for a record in an
    /// empty queue (an idle process does not wake at all, whatever `scheduleDelay` is); then until
    /// a full batch is waiting or `scheduleDelay` has passed. Shutdown or cancellation end either
    /// wait.
    private func waitForWork() async {
        await self.waitForSignal { state in
            guard state.storage.count == 0 else { return true }
            state.idle = true
            return false
        }
        if Task.isCancelled || Task.isShuttingDownGracefully { return }
        // Under load a full batch is often waiting already: then no deadline is armed.
        if self.state.withLock({ $0.storage.count >= self.configuration.maxExportBatchSize }) { return }
        let deadline = ContinuousClock.now.advanced(by: self.configuration.scheduleDelay)
        let timer = self.state.withLock { state in
            state.flushDeadline = deadline
            return state.timerWaiter.take()
        }
        timer?.resume()
        await self.waitForSignal { state in state.storage.count >= self.configuration.maxExportBatchSize }
        self.state.withLock { $0.flushDeadline = nil }
    }

    /// The flush timer, for as long as ``run()`` runs: sleeps until the armed flush deadline and
    /// wakes the run loop if it still waits for that one. A full batch does not cancel it: each
    /// deadline armed is later than the one before, so on waking at one that has been cleared or
    /// replaced it sleeps on to the current one, or waits without a timer for the next. Under load
    /// that is one timer per `scheduleDelay`, where a timer per wait, cancelled when the batch
    /// filled, made one per export (and the runtime keeps a cancelled sleep until its deadline).
    private func runFlushTimer() async {
        self.state.withLock { $0.timerStopped = false }
        while !Task.isCancelled {
            guard let deadline = await self.armedFlushDeadline() else { return }
            guard (try? await Task.sleep(until: deadline, clock: .continuous)) != nil else { return }
            let waiter = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard let armed = state.flushDeadline, armed <= deadline else { return nil }
                state.flushDeadline = nil
                return Self.takeWaiter(&state)
            }
            waiter?.resume()
        }
    }

    /// The armed flush deadline, waiting (without a timer) until one is; `nil` once cancelled.
    private func armedFlushDeadline() async -> ContinuousClock.Instant? {
        while !Task.isCancelled {
            let armed: ContinuousClock.Instant? = await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let resumeNow = self.state.withLock { state -> Bool in
                        if state.flushDeadline != nil || state.timerStopped { return true }
                        state.timerWaiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
                return self.state.withLock { $0.flushDeadline }
            } onCancel: {
                self.state.withLock { state in
                    state.timerStopped = true
                    return state.timerWaiter.take()
                }?.resume()
            }
            if let armed { return armed }
        }
        return nil
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

/// What a ``BatchExportQueue`` keeps waiting for export; used only under the queue's lock.
protocol BatchQueueStorage: ~Copyable, Sendable {
    /// What ``BatchExportQueue/add(_:)`` takes.
    associatedtype Item
    /// What the storage hands back from a call to be released after the lock (`Void` if nothing).
    associatedtype Released: Sendable
    /// Everything waiting, taken out at once (a swap under the lock).
    associatedtype Taken: Sendable
    /// One export's worth.
    associatedtype Batch: Sendable

    /// Empty storage for a queue of `configuration`.
    init(configuration: BatchConfiguration)

    /// How many records wait.
    var count: Int { get }

    /// Adds a record after the others; when `maxQueueSize` wait already, drops the oldest.
    /// - Returns: Whether one was dropped, and what to release after the lock.
    mutating func add(_ item: consuming Item, maxQueueSize: Int) -> (dropped: Bool, released: Released)

    /// Takes out everything waiting, leaving the storage empty.
    mutating func takeAll() -> Taken

    /// What was taken, oldest first, in batches of at most `size` records.
    static func batches(of taken: Taken, size: Int) -> [Batch]

    /// How many records `batch` holds.
    static func count(of batch: Batch) -> Int

    /// Gets back what was taken, once exported: the storage takes what it keeps out of `taken`
    /// and may leave there what is to be released after the lock.
    mutating func exported(_ taken: inout Taken?)
}
