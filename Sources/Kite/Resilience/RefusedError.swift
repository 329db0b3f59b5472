import KiteTelemetry

/// A call that a resilience component refused locally, without calling what it guards: an open
/// circuit breaker, a rate limiter out of tokens, a full bulkhead, an exceeded concurrency limit,
/// a load shedder under overload.
///
/// Transports answer it like any ``ServiceError``: the overload refusals (``Reason/rateLimited``,
/// ``Reason/bulkheadFull``, ``Reason/queueTimeout``, ``Reason/concurrencyLimit``) with
/// `RESOURCE_EXHAUSTED` — HTTP 429 — and the others with `UNAVAILABLE` — HTTP 503; when
/// ``retryAfter`` is known the HTTP transport sends it as `Retry-After` and the gRPC transport as
/// `grpc-retry-pushback-ms`. It is a failure, not a business error, but a ``RetryPolicy`` does not
/// retry it by default: the refusal is local, and trying again at once would be refused too.
public struct RefusedError: ServiceError, Hashable, CustomStringConvertible {
    /// Why the call was refused; the raw value is the `reason` label of the refusal metrics.
    public enum Reason: String, Sendable, Hashable, CaseIterable {
        /// A circuit breaker is open.
        case circuitOpen = "circuit_open"
        /// A half-open circuit breaker already has all the trial calls it admits.
        case halfOpenFull = "half_open_full"
        /// An adaptive throttle refused the call (client-side throttling, Google SRE).
        case throttled = "throttled"
        /// A Hystrix breaker already runs its maximum of concurrent calls.
        case tooManyConcurrentCalls = "max_concurrent"
        /// A rate limiter has no token for the call.
        case rateLimited = "rate_limited"
        /// A bulkhead has all its slots taken and its queue full.
        case bulkheadFull = "bulkhead_full"
        /// The call waited in a queue (a bulkhead, a delaying limiter) for as long as it may, or
        /// past its deadline.
        case queueTimeout = "queue_timeout"
        /// An adaptive concurrency limit is reached.
        case concurrencyLimit = "concurrency_limit"
        /// A load shedder refuses work while the service is overloaded.
        case overloaded = "overloaded"
    }

    /// Why.
    public var reason: Reason
    /// The name of the component that refused.
    public var component: String
    /// When trying again may succeed, if the component knows (an open breaker's remaining
    /// cool-down, a rate limiter's time to the next token).
    public var retryAfter: Duration?

    /// Creates a refusal.
    public init(_ reason: Reason, by component: String, retryAfter: Duration? = nil) {
        self.reason = reason
        self.component = component
        self.retryAfter = retryAfter
    }

    public var code: ErrorCode {
        switch self.reason {
        case .rateLimited, .bulkheadFull, .queueTimeout, .concurrencyLimit: .resourceExhausted
        case .circuitOpen, .halfOpenFull, .throttled, .tooManyConcurrentCalls, .overloaded: .unavailable
        }
    }

    public var description: String {
        let what: String
        switch self.reason {
        case .circuitOpen: what = "circuit breaker \"\(self.component)\" is open"
        case .halfOpenFull: what = "circuit breaker \"\(self.component)\" is half-open and has all its trial calls"
        case .throttled: what = "adaptive throttle \"\(self.component)\" refused the call"
        case .tooManyConcurrentCalls: what = "circuit breaker \"\(self.component)\" runs its maximum of concurrent calls"
        case .rateLimited: what = "rate limit \"\(self.component)\" exceeded"
        case .bulkheadFull: what = "bulkhead \"\(self.component)\" is full"
        case .queueTimeout: what = "\"\(self.component)\" gave up waiting for a slot"
        case .concurrencyLimit: what = "concurrency limit \"\(self.component)\" reached"
        case .overloaded: what = "\"\(self.component)\" is overloaded and sheds load"
        }
        guard let retryAfter = self.retryAfter else { return what }
        return "\(what); retry after \(retryAfter.formattedSeconds)"
    }
}

extension Duration {
    /// `1.5 s`, `250 ms`: a duration as people read it in an error message.
    var formattedSeconds: String {
        let nanoseconds = self.clampedNanoseconds
        if nanoseconds < 1_000_000_000, nanoseconds % 1_000_000 == 0 { return "\(nanoseconds / 1_000_000) ms" }
        if nanoseconds % 1_000_000_000 == 0 { return "\(nanoseconds / 1_000_000_000) s" }
        let seconds = (Double(nanoseconds) / 1e9 * 1000).rounded() / 1000
        return "\(seconds) s"
    }
}
