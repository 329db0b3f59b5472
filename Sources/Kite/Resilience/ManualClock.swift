import KiteTelemetry
import Synchronization

/// A clock that moves only when told to: what tests of the resilience state machines run on.
///
/// ```swift
/// let clock = ManualClock()
/// let breaker = try CircuitBreaker("add", policy: .consecutiveFailures(5, coolDown: .seconds(5)),
///                                  telemetry: telemetry, clock: .manual(clock))
/// clock.advance(by: .seconds(5))      // the cool-down is over: the next call is a trial
/// ```
///
/// Tasks sleeping on it (a delaying limiter, a retry's backoff, a timeout) wake when
/// ``advance(by:)`` passes their deadline; ``waitForSleepers(_:)`` waits until that many are
/// asleep, so a test advances the clock only once the code under test is waiting on it.
public final class ManualClock: Sendable {
    private struct Sleeper {
        let id: UInt64
        let deadline: Int64
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: Int64
        var nextID: UInt64 = 0
        var sleepers: [Sleeper] = []
        /// Sleeps that have an ID but have not yet registered (or finished).
        var starting: Set<UInt64> = []
        /// Starting sleeps whose task was cancelled before they registered.
        var cancelledEarly: Set<UInt64> = []
        var sleeperWatchers: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state: Mutex<State>

    /// Creates a clock reading `start` (one second by default, so that no instant is zero).
    public init(start: Duration = .seconds(1)) {
        self.state = Mutex(State(now: start.clampedNanoseconds))
    }

    /// The time since the clock's origin.
    public var now: Duration { .nanoseconds(self.nanoseconds) }

    var nanoseconds: Int64 { self.state.withLock { $0.now } }

    /// The number of tasks asleep on the clock.
    public var sleeperCount: Int { self.state.withLock { $0.sleepers.count } }

    /// Moves the clock forward and wakes, in deadline order, every sleeper whose deadline it passed.
    public func advance(by duration: Duration) {
        let woken: [Sleeper] = self.state.withLock { state in
            state.now += max(duration.clampedNanoseconds, 0)
            let now = state.now
            let due = state.sleepers.filter { $0.deadline <= now }.sorted { $0.deadline < $1.deadline }
            state.sleepers.removeAll { $0.deadline <= now }
            return due
        }
        for sleeper in woken { sleeper.continuation.resume() }
    }

    /// Returns once at least `count` tasks are asleep on the clock.
    public func waitForSleepers(_ count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = self.state.withLock { state in
                if state.sleepers.count >= count { return true }
                state.sleeperWatchers.append((count, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }

    func sleep(until deadline: Int64) async throws {
        let id = self.state.withLock { state in
            defer { state.nextID += 1 }
            state.starting.insert(state.nextID)
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let (outcome, watchers) = self.state.withLock { state -> (Result<Void, any Error>?, [CheckedContinuation<Void, Never>]) in
                    state.starting.remove(id)
                    if state.cancelledEarly.remove(id) != nil { return (.failure(CancellationError()), []) }
                    if deadline <= state.now { return (.success(()), []) }
                    state.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    let count = state.sleepers.count
                    var ready: [CheckedContinuation<Void, Never>] = []
                    state.sleeperWatchers.removeAll { watcher in
                        guard watcher.count <= count else { return false }
                        ready.append(watcher.continuation)
                        return true
                    }
                    return (nil, ready)
                }
                for watcher in watchers { watcher.resume() }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let sleeper: Sleeper? = self.state.withLock { state in
                if let index = state.sleepers.firstIndex(where: { $0.id == id }) {
                    return state.sleepers.remove(at: index)
                }
                if state.starting.contains(id) { state.cancelledEarly.insert(id) }
                return nil
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }
}
