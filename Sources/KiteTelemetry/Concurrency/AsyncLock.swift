import Synchronization

/// Mutual exclusion for async work that suspends while holding it (an export that sends over the
/// network): ``withLock(_:)`` runs its body only after every body that took the lock before it
/// has finished, in the order they asked. Waiting suspends the task; it never blocks a thread.
///
/// Waiting is not cancellable: the bodies it guards are short (one export, bounded by its
/// timeout), and an export asked for must not be skipped.
final class AsyncLock: Sendable {
    private struct State: ~Copyable {
        var locked = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    /// Runs `body` while holding the lock.
    func withLock<Result>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> sending Result
    ) async rethrows -> sending Result {
        await self.lock()
        defer { self.unlock() }
        return try await body()
    }

    private func lock() async {
        await withCheckedContinuation { continuation in
            let acquired = self.state.withLock { state in
                guard state.locked else {
                    state.locked = true
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if acquired { continuation.resume() }
        }
    }

    /// Hands the lock to the longest waiter, or releases it.
    private func unlock() {
        let next: CheckedContinuation<Void, Never>? = self.state.withLock { state in
            guard !state.waiters.isEmpty else {
                state.locked = false
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}
