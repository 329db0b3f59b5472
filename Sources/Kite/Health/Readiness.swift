import Synchronization

/// Whether a service is ready for traffic: every server of its service group listens, and
/// graceful shutdown has not started. HTTP's `/readyz` and gRPC's health service read the same
/// value, so a load balancer sees one answer whichever it asks.
///
/// Each server registers itself when it is made and reports when it listens; the first server to
/// see graceful shutdown marks the whole service not ready, so traffic drains before listeners
/// close.
///
/// ```swift
/// let readiness = Readiness()
/// let http = HTTPServer(configuration: …, telemetry: telemetry, readiness: readiness) { … }
/// let grpc = GRPCEndpointServer(configuration: …, telemetry: telemetry, readiness: readiness) { … }
/// ```
public final class Readiness: Sendable {
    /// A server's place in the readiness.
    public struct Registration: Sendable, Hashable {
        let index: Int
    }

    private struct State {
        var listening: [Bool] = []
        var shuttingDown = false
        var watchers: [Int: AsyncStream<Bool>.Continuation] = [:]
        var nextWatcher = 0

        var isReady: Bool { !self.shuttingDown && !self.listening.isEmpty && self.listening.allSatisfy { $0 } }
    }

    private let state = Mutex(State())

    /// Creates a readiness with no servers (not ready until one registers and listens).
    public init() {}

    /// Whether every registered server listens and shutdown has not started.
    public var isReady: Bool { self.state.withLock { $0.isReady } }

    /// Whether graceful shutdown has started.
    public var isShuttingDown: Bool { self.state.withLock { $0.shuttingDown } }

    /// Registers a server that is not listening yet.
    public func register() -> Registration {
        self.update { state in
            state.listening.append(false)
            return Registration(index: state.listening.count - 1)
        }
    }

    /// Records that the server listens (or stopped listening).
    public func setListening(_ listening: Bool, for registration: Registration) {
        self.update { $0.listening[registration.index] = listening }
    }

    /// Marks the service not ready for good: graceful shutdown started.
    public func beginShutdown() {
        self.update { $0.shuttingDown = true }
    }

    /// The readiness now and after every change, until the consumer stops listening.
    public func changes() -> AsyncStream<Bool> {
        let (stream, continuation) = AsyncStream<Bool>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id = self.state.withLock { state in
            let id = state.nextWatcher
            state.nextWatcher += 1
            state.watchers[id] = continuation
            continuation.yield(state.isReady)
            return id
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.watchers.removeValue(forKey: id) }
        }
        return stream
    }

    private func update<T>(_ change: (inout State) -> T) -> T {
        self.state.withLock { state in
            let before = state.isReady
            let result = change(&state)
            let after = state.isReady
            if before != after {
                for watcher in state.watchers.values { watcher.yield(after) }
            }
            return result
        }
    }
}
