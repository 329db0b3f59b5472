import KiteTelemetry
import Synchronization

/// A bulkhead: at most `maxConcurrentCalls` calls in flight, at most `maxWaitingCalls` more
/// waiting for a slot, none waiting longer than `maxWait` (or past its deadline). Beyond that a
/// call is refused at once with ``RefusedError`` (`bulkhead_full` or `queue_timeout`,
/// `RESOURCE_EXHAUSTED`: HTTP 429), so one slow dependency cannot take every task of the service.
///
/// ```swift
/// let bulkhead = try Bulkhead("db", maxConcurrentCalls: 10, maxWaitingCalls: 20,
///                             maxWait: .milliseconds(100), telemetry: telemetry)
/// let query = queryEndpoint.with(.bulkhead(bulkhead))
/// ```
///
/// Admitting a call while a slot is free is one compare-and-exchange, releasing it one atomic
/// subtraction; waiting calls queue in order, and a released slot passes straight to the first.
/// Metrics are the ``LimiterInstruments`` ones with `kind="bulkhead"`.
public final class Bulkhead: Sendable {
    /// The bulkhead's name: the `limiter` label.
    public let name: String
    /// Calls in flight at most.
    public let maxConcurrentCalls: Int
    /// Calls waiting for a slot at most.
    public let maxWaitingCalls: Int
    /// The longest a call waits for a slot.
    public let maxWait: Duration
    let clock: ResilienceClock
    let instruments: LimiterInstruments

    /// Calls in flight in the low 32 bits, calls waiting in the high 32 bits.
    private let word = Atomic<UInt64>(0)
    private let queue = Mutex(WaitQueue())
    private static let waitingUnit: UInt64 = 1 << 32
    private static let inFlightMask: UInt64 = 0xFFFF_FFFF

    private struct WaitQueue {
        var nextID: UInt64 = 0
        var waiters: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
        /// Waiters that have an ID but have not yet tried to queue.
        var starting: Set<UInt64> = []
        /// Starting waiters whose timer or caller gave up before they queued.
        var abandoned: [UInt64: RefusedError?] = [:]
    }

    /// Creates a bulkhead.
    /// - Parameters:
    ///   - name: The `limiter` label and the name in refusals.
    ///   - maxConcurrentCalls: Calls in flight at most, at least 1.
    ///   - maxWaitingCalls: Calls that may wait for a slot. Default 0: refuse at once when full.
    ///   - maxWait: The longest a call waits. Default 1 s.
    ///   - telemetry: Where its metrics go.
    ///   - clock: The time it reads.
    /// - Throws: ``ResilienceConfigurationError`` when a value is out of range.
    public init(
        _ name: String,
        maxConcurrentCalls: Int,
        maxWaitingCalls: Int = 0,
        maxWait: Duration = .seconds(1),
        telemetry: Telemetry,
        clock: ResilienceClock = .system
    ) throws {
        let check = ConfigurationCheck(component: "bulkhead \"\(name)\"")
        try check.positive(maxConcurrentCalls, "maxConcurrentCalls")
        try check.nonNegative(maxWaitingCalls, "maxWaitingCalls")
        try check.that(maxConcurrentCalls <= Int(Int32.max), "maxConcurrentCalls must fit in 32 bits")
        try check.that(maxWaitingCalls <= Int(Int32.max), "maxWaitingCalls must fit in 32 bits")
        if maxWaitingCalls > 0 { try check.positive(maxWait, "maxWait") }
        self.name = name
        self.maxConcurrentCalls = maxConcurrentCalls
        self.maxWaitingCalls = maxWaitingCalls
        self.maxWait = maxWait
        self.clock = clock
        self.instruments = LimiterInstruments(
            name: name,
            kind: "bulkhead",
            reasons: [.bulkheadFull, .queueTimeout],
            telemetry: telemetry
        )
        self.instruments.setLimit(Double(maxConcurrentCalls))
        self.instruments.publish(inFlight: { [weak self] in self?.inFlight }, limit: nil)
    }

    /// Calls in flight now.
    public var inFlight: Int { Int(self.word.load(ordering: .relaxed) & Self.inFlightMask) }

    /// Calls waiting for a slot now.
    public var waiting: Int { Int(self.word.load(ordering: .relaxed) >> 32) }

    /// Takes a slot if one is free now and nobody waits for one; `false` otherwise (counted as
    /// refused, `bulkhead_full`). Give it back with ``release()``.
    public func tryAcquire() -> Bool {
        if self.acquireFree() { return true }
        self.instruments.refused(.bulkheadFull)
        return false
    }

    /// Takes a free slot when nobody is queued: one compare-and-exchange.
    private func acquireFree() -> Bool {
        var word = self.word.load(ordering: .relaxed)
        while word >> 32 == 0, word & Self.inFlightMask < UInt64(self.maxConcurrentCalls) {
            let (exchanged, original) = self.word.weakCompareExchange(
                expected: word,
                desired: word + 1,
                ordering: .acquiring
            )
            if exchanged {
                self.instruments.admitted.increment()
                return true
            }
            word = original
        }
        return false
    }

    /// Takes a slot, waiting for one if the bulkhead allows it.
    /// - Throws: ``RefusedError`` when the call gets no slot; `CancellationError` when its caller
    ///   cancels while it waits.
    public func acquire() async throws {
        if self.acquireFree() { return }
        guard self.maxWaitingCalls > 0 else { throw self.refuse(.bulkheadFull) }
        try await self.waitForSlot()
    }

    /// Gives a slot back: to the first waiting call if there is one.
    public func release() {
        var word = self.word.load(ordering: .relaxed)
        while true {
            if word >> 32 == 0 {
                let (exchanged, original) = self.word.weakCompareExchange(
                    expected: word,
                    desired: word - 1,
                    ordering: .releasing
                )
                if exchanged { return }
                word = original
                continue
            }
            let waiter: CheckedContinuation<Void, any Error>? = self.queue.withLock { queue in
                guard !queue.waiters.isEmpty else { return nil }
                // The slot passes to the waiter: in flight stays, waiting goes down by one.
                self.word.subtract(Self.waitingUnit, ordering: .relaxed)
                return queue.waiters.removeFirst().continuation
            }
            if let waiter {
                waiter.resume()
                return
            }
            word = self.word.load(ordering: .relaxed)
        }
    }

    private func waitForSlot() async throws {
        let start = self.clock.now()
        let deadline = start &+ ResilienceClock.allowedWait(self.maxWait.clampedNanoseconds)
        let id = self.queue.withLock { queue in
            defer { queue.nextID += 1 }
            queue.starting.insert(queue.nextID)
            return queue.nextID
        }
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await self.clock.sleep(until: deadline)
                    self.abandon(id, with: RefusedError(.queueTimeout, by: self.name))
                }
                defer { group.cancelAll() }
                try await withTaskCancellationHandler {
                    try await self.enqueue(id)
                } onCancel: {
                    self.abandon(id, with: nil)
                }
            }
        } catch let refusal as RefusedError where refusal.reason == .bulkheadFull {
            self.instruments.refused(.bulkheadFull)
            throw refusal
        } catch {
            self.instruments.recordWait(nanoseconds: self.clock.now() - start)
            self.instruments.refused(.queueTimeout)
            throw error
        }
        self.instruments.recordWait(nanoseconds: self.clock.now() - start)
        self.instruments.admitted.increment()
    }

    /// Takes a free slot, queues for one, or throws ``RefusedError`` when the queue is full.
    private func enqueue(_ id: UInt64) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let result: Result<Void, any Error>? = self.queue.withLock { queue in
                queue.starting.remove(id)
                if let abandoned = queue.abandoned.removeValue(forKey: id) {
                    return .failure(abandoned ?? CancellationError())
                }
                var word = self.word.load(ordering: .relaxed)
                while true {
                    let inFlight = word & Self.inFlightMask
                    let waiting = word >> 32
                    let desired: UInt64
                    if waiting == 0, inFlight < UInt64(self.maxConcurrentCalls) {
                        desired = word + 1
                    } else if waiting < UInt64(self.maxWaitingCalls) {
                        desired = word + Self.waitingUnit
                    } else {
                        return .failure(RefusedError(.bulkheadFull, by: self.name))
                    }
                    let (exchanged, original) = self.word.weakCompareExchange(
                        expected: word,
                        desired: desired,
                        ordering: .acquiringAndReleasing
                    )
                    if exchanged {
                        if desired == word + 1 { return .success(()) }
                        queue.waiters.append((id, continuation))
                        return nil
                    }
                    word = original
                }
            }
            if let result { continuation.resume(with: result) }
        }
    }

    /// Takes waiter `id` out of the queue and fails it (with `refusal`, or `CancellationError`).
    private func abandon(_ id: UInt64, with refusal: RefusedError?) {
        let waiter: CheckedContinuation<Void, any Error>?? = self.queue.withLock { queue in
            if let index = queue.waiters.firstIndex(where: { $0.id == id }) {
                self.word.subtract(Self.waitingUnit, ordering: .relaxed)
                return queue.waiters.remove(at: index).continuation
            }
            // Not queued yet: it fails when it tries. Already admitted: nothing to do.
            if queue.starting.contains(id), queue.abandoned[id] == nil { queue.abandoned[id] = .some(refusal) }
            return .some(nil)
        }
        if case .some(.some(let continuation)) = waiter {
            continuation.resume(throwing: refusal ?? CancellationError())
        }
    }

    private func refuse(_ reason: RefusedError.Reason) -> RefusedError {
        self.instruments.refused(reason)
        return RefusedError(reason, by: self.name)
    }
}

extension Middleware {
    /// Runs the endpoint's calls in `bulkhead`'s slots: see ``Bulkhead``.
    @inlinable
    public static func bulkhead(_ bulkhead: Bulkhead) -> Middleware {
        Middleware { next in
            Endpoint { request in
                try await bulkhead.acquire()
                defer { bulkhead.release() }
                return try await next(request)
            }
        }
    }
}
