import Synchronization

/// A value that changes, and the subscribers that want each change: a new subscriber gets the
/// value at once (when there is one), then every later value. A slow subscriber only sees the
/// newest value it has not read.
final class LatestValueBroadcast<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var subscribers: [Int: AsyncStream<Value>.Continuation] = [:]
        var nextSubscriber = 0
        var finished = false
    }

    private let state = Mutex(State())

    init() {}

    /// The value now, or `nil` before the first.
    var value: Value? { self.state.withLock { $0.value } }

    /// The value now (if any), then each change, until ``finish()``.
    func subscribe() -> AsyncStream<Value> {
        let (stream, continuation) = AsyncStream<Value>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id: Int? = self.state.withLock { state in
            guard !state.finished else { return nil }
            let id = state.nextSubscriber
            state.nextSubscriber += 1
            state.subscribers[id] = continuation
            if let value = state.value { continuation.yield(value) }
            return id
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Replaces the value with the one `change` makes from the current, and publishes it; `change`
    /// returns `nil` to leave the value as it is. Returns the old value when a new one was published.
    @discardableResult
    func update(_ change: (Value?) -> Value?) -> Value?? {
        self.state.withLock { state in
            guard !state.finished, let next = change(state.value) else { return .none }
            let old = state.value
            state.value = next
            for subscriber in state.subscribers.values { subscriber.yield(next) }
            return .some(old)
        }
    }

    /// Ends every subscription; later subscriptions end at once and updates are ignored.
    func finish() {
        let subscribers = self.state.withLock { state in
            state.finished = true
            defer { state.subscribers.removeAll() }
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers { subscriber.finish() }
    }
}
