import ServiceLifecycle

extension Readiness {
    /// Runs `serve` — a server that returns once graceful shutdown has finished its work — and
    /// bounds that shutdown: when graceful shutdown begins the service turns not ready,
    /// `onShutdown` runs (to tell a server that does not watch for it itself), and `serve` has
    /// `timeout` to return before it is cancelled.
    /// - Returns: `false` when the deadline passed and `serve` was cancelled, `true` otherwise.
    public func serveUntilShutdown(
        timeout: Duration,
        onShutdown: @escaping @Sendable () -> Void = {},
        serve: @escaping @Sendable () async throws -> Void
    ) async throws -> Bool {
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await serve() }
                group.addTask {
                    try await gracefulShutdown()
                    self.beginShutdown()
                    onShutdown()
                    try await Task.sleep(for: timeout)
                    throw ShutdownTimedOut()
                }
                // The server returns once graceful shutdown has finished; the deadline then no
                // longer matters.
                try await group.next()
                group.cancelAll()
            }
            return true
        } catch is ShutdownTimedOut {
            return false
        }
    }

    private struct ShutdownTimedOut: Error {}
}
