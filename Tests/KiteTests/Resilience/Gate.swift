import Synchronization

/// Holds the calls that pass through it until opened, and lets a test wait until a number of
/// calls are held — no sleeping.
final class Gate: Sendable {
    private struct State {
        var open = false
        var held: [Int: CheckedContinuation<Void, Never>] = [:]
        var cancelledEarly: Set<Int> = []
        var arrivals = 0
        var watchers: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state = Mutex(State())

    /// Calls that reached the gate so far.
    var arrivals: Int { self.state.withLock { $0.arrivals } }

    /// Waits until the gate opens (at once if it is open) or the task is cancelled.
    func pass() async {
        let id = self.state.withLock { state in
            state.arrivals += 1
            return state.arrivals
        }
        await withTaskCancellationHandler {
            await self.hold(id)
        } onCancel: {
            let held = self.state.withLock { state in
                guard let held = state.held.removeValue(forKey: id) else {
                    state.cancelledEarly.insert(id)
                    return nil as CheckedContinuation<Void, Never>?
                }
                return held
            }
            held?.resume()
        }
    }

    private func hold(_ id: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let (passNow, ready) = self.state.withLock { state -> (Bool, [CheckedContinuation<Void, Never>]) in
                let arrivals = state.arrivals
                var ready: [CheckedContinuation<Void, Never>] = []
                state.watchers.removeAll { watcher in
                    guard watcher.count <= arrivals else { return false }
                    ready.append(watcher.continuation)
                    return true
                }
                if state.open || state.cancelledEarly.remove(id) != nil { return (true, ready) }
                state.held[id] = continuation
                return (false, ready)
            }
            for watcher in ready { watcher.resume() }
            if passNow { continuation.resume() }
        }
    }

    /// Returns once `count` calls have reached the gate.
    func waitForArrivals(_ count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = self.state.withLock { state in
                if state.arrivals >= count { return true }
                state.watchers.append((count, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Lets every held call and every later one through.
    func open() {
        let held = self.state.withLock { state in
            state.open = true
            defer { state.held = [:] }
            return state.held.values
        }
        for continuation in held { continuation.resume() }
    }
}
