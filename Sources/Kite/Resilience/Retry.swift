import KiteTelemetry
import Tracing

extension Middleware {
    /// Tries a failed call again, as `policy` says: at most `maxAttempts` attempts, exponential
    /// backoff with full jitter between them (at least as long as the error's
    /// ``ServiceError/retryAfter``), within the policy's `timeout` and the call's deadline, and
    /// only while its ``RetryBudget`` has tokens. The caller gets the last attempt's error.
    ///
    /// Each attempt runs in its own child span of the call's span (`<name> attempt`, with
    /// `kite.retry.attempt`), so a trace shows the retries. Metrics: the histogram
    /// `kite_retry_attempts{retry}` (attempts per call), `kite_retry_retries_total{retry}`,
    /// `kite_retry_budget_exhausted_total{retry}` (retries the budget refused) and the gauge
    /// `kite_retry_budget_tokens{retry}`.
    ///
    /// - Parameters:
    ///   - policy: When and how to retry.
    ///   - name: The `retry` label and the span names.
    ///   - telemetry: Where spans and metrics go.
    ///   - clock: The time backoffs sleep on.
    ///   - random: Numbers in `0..<1` for the jitter. Default the system's.
    /// - Throws: ``ResilienceConfigurationError`` when the policy's values are out of range.
    public static func retry(
        _ policy: RetryPolicy,
        name: String,
        telemetry: Telemetry,
        clock: ResilienceClock = .system,
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) throws -> Middleware {
        try policy.validate(ConfigurationCheck(component: "retry \"\(name)\""))
        let retrier = Retrier(policy: policy, name: name, telemetry: telemetry, clock: clock, random: random)
        return Middleware { next in
            Endpoint { request in
                guard let timeout = policy.timeout else { return try await retrier.call(next, with: request) }
                return try await withTimeout(timeout, name: name, clock: clock) {
                    try await retrier.call(next, with: request)
                }
            }
        }
    }
}

/// The state behind one retry middleware.
final class Retrier: Sendable {
    let policy: RetryPolicy
    let name: String
    let attemptSpanName: String
    let clock: ResilienceClock
    let random: @Sendable () -> Double
    let tracer: KiteTracer
    let attempts: Histogram
    let retries: Counter
    let budgetExhausted: Counter

    init(
        policy: RetryPolicy,
        name: String,
        telemetry: Telemetry,
        clock: ResilienceClock,
        random: @escaping @Sendable () -> Double
    ) {
        self.policy = policy
        self.name = name
        self.attemptSpanName = "\(name) attempt"
        self.clock = clock
        self.random = random
        self.tracer = telemetry.tracer
        let registry = telemetry.registry
        self.attempts = registry.histogram(
            "kite_retry_attempts",
            help: "Attempts per call of a retrying endpoint.",
            labelNames: ["retry"],
            buckets: .linear(start: 1, width: 1, count: 10)
        ).labels(name)
        self.retries = registry.counter(
            "kite_retry_retries_total",
            help: "Retries made (attempts after the first).",
            labelNames: ["retry"]
        ).labels(name)
        self.budgetExhausted = registry.counter(
            "kite_retry_budget_exhausted_total",
            help: "Retries not made because the retry budget was spent.",
            labelNames: ["retry"]
        ).labels(name)
        if let budget = policy.budget {
            let tokens = registry.gauge(
                "kite_retry_budget_tokens",
                help: "Tokens left in a retry budget.",
                labelNames: ["retry"]
            ).labels(name)
            registry.addCollectHook { [weak budget] in
                if let budget { tokens.set(budget.tokens) }
            }
        }
    }

    func call<Request: Sendable, Response: Sendable>(
        _ next: Endpoint<Request, Response>,
        with request: Request
    ) async throws -> Response {
        self.policy.budget?.recordCall()
        var attempt = 1
        while true {
            do {
                let response = try await self.attempt(attempt, next, request)
                self.attempts.observe(Double(attempt))
                return response
            } catch {
                guard let backoff = self.backoff(after: error, attempt: attempt) else {
                    self.attempts.observe(Double(attempt))
                    throw error
                }
                if backoff > 0 {
                    do {
                        try await self.clock.sleep(until: self.clock.now() &+ backoff)
                    } catch {
                        self.attempts.observe(Double(attempt))
                        throw error
                    }
                }
                self.retries.increment()
                attempt += 1
            }
        }
    }

    /// One attempt, in its own span.
    private func attempt<Request: Sendable, Response: Sendable>(
        _ number: Int,
        _ next: Endpoint<Request, Response>,
        _ request: Request
    ) async throws -> Response {
        let span = self.tracer.startSpan(self.attemptSpanName, context: ServiceContext.current ?? .topLevel)
        defer { span.end() }
        span.setAttribute("kite.retry.attempt", number)
        do {
            if span.inheritsContext { return try await next(request) }
            return try await ServiceContext.$current.withValue(span.context) { try await next(request) }
        } catch {
            span.recordError(error)
            if CallOutcome(of: error) == .failure {
                span.setStatus(SpanStatus(code: .error, message: String(describing: error)))
            }
            throw error
        }
    }

    /// The wait before the next attempt after `error`, or `nil` when there is none.
    private func backoff(after error: any Error, attempt: Int) -> Int64? {
        guard attempt < self.policy.maxAttempts, !Task.isCancelled, self.policy.isRetryable(error) else { return nil }
        var wait = self.policy.backoff(beforeRetry: attempt, random: self.random())
        if let retryAfter = (error as? any ServiceError)?.retryAfter {
            wait = max(wait, retryAfter.clampedNanoseconds)
        }
        // A retry that would start past the deadline is not made.
        if let untilDeadline = ResilienceClock.nanosecondsToContextDeadline(), wait >= untilDeadline { return nil }
        if let budget = self.policy.budget, !budget.withdraw() {
            self.budgetExhausted.increment()
            return nil
        }
        return wait
    }
}
