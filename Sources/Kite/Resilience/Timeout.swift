import KiteTelemetry
import Tracing

extension Middleware {
    /// Gives each call at most `limit`: at the deadline the inner call is cancelled (through task
    /// cancellation) and the caller gets a ``TimeoutError`` naming `name` and `limit`, which
    /// transports answer with `DEADLINE_EXCEEDED` / HTTP 504.
    ///
    /// The deadline also goes into the task's ``ServiceContext/deadline`` (unless the caller's is
    /// earlier), so client transports inside send the time left downstream. The call returns
    /// once the inner call has ended: an inner call that ignores cancellation holds its caller
    /// until it does.
    ///
    /// ```swift
    /// let sum = client.endpoint(...).with(try .timeout(.seconds(1), name: "sum"))
    /// ```
    /// - Throws: ``ResilienceConfigurationError`` when `limit` is not longer than zero.
    public static func timeout(
        _ limit: Duration,
        name: String,
        clock: ResilienceClock = .system
    ) throws -> Middleware {
        try ConfigurationCheck(component: "timeout \"\(name)\"").positive(limit, "limit")
        return Middleware { next in
            Endpoint { request in
                try await withTimeout(limit, name: name, clock: clock) { try await next(request) }
            }
        }
    }
}

/// Runs `body`, cancelling it after `limit` on `clock` and throwing ``TimeoutError`` then.
func withTimeout<Response: Sendable>(
    _ limit: Duration,
    name: String,
    clock: ResilienceClock,
    _ body: @escaping @Sendable () async throws -> Response
) async throws -> Response {
    let deadline = clock.now() &+ limit.clampedNanoseconds
    var context = ServiceContext.current ?? .topLevel
    let wallDeadline = ContinuousClock.now.advanced(by: limit)
    if context.deadline.map({ $0 > wallDeadline }) ?? true {
        context.deadline = wallDeadline
    }
    return try await ServiceContext.$current.withValue(context) {
        try await withThrowingTaskGroup(of: Response?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await clock.sleep(until: deadline)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let response = first else {
                try Task.checkCancellation()
                throw TimeoutError(endpoint: name, after: limit)
            }
            return response
        }
    }
}
