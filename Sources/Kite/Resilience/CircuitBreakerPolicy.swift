import KiteTelemetry

/// When a ``CircuitBreaker`` opens, how long it stays open and how it closes again.
///
/// Three models, each as its origin defines it:
/// - ``consecutiveFailures(_:coolDown:halfOpenCalls:successesToClose:)`` and
///   ``failureRatio(_:minimumCalls:window:coolDown:halfOpenCalls:successesToClose:)`` — gobreaker's:
///   closed → open after N failures in a row, or a failure ratio over at least a minimum number of
///   calls in a rolling window; open for a cool-down; then half-open, admitting a bounded number of
///   trial calls; closed again after M successful trials, open again at the first failed one.
/// - ``hystrix(errorThresholdPercentage:requestVolumeThreshold:window:buckets:sleepWindow:maxConcurrentCalls:timeout:)``
///   — Hystrix's: a rolling window of buckets, an error percentage over a request volume, a sleep
///   window, a maximum of concurrent calls and a timeout per call. Refusals for concurrency and
///   timeouts count as errors, as in Hystrix; one trial call when the sleep window is over.
/// - ``adaptiveThrottling(k:window:buckets:)`` — Google SRE's client-side throttling (as Kratos and
///   go-zero use it): each call is refused with probability `max(0, (requests − k·accepts) /
///   (requests + 1))` over the rolling window. It never opens: its state reads half-open while
///   it refuses some calls, closed otherwise.
public struct CircuitBreakerPolicy: Sendable {
    enum Model: Sendable {
        case consecutive(failures: Int)
        case ratio(Double, minimumCalls: Int)
        case hystrix(errorPercentage: Int, requestVolume: Int, maxConcurrentCalls: Int, timeout: Duration)
        case adaptive(k: Double)
    }

    let model: Model
    let coolDown: Duration
    let halfOpenCalls: Int
    let successesToClose: Int
    let window: Duration
    let buckets: Int

    /// gobreaker's default trip condition: open after `failures` failures in a row.
    /// - Parameters:
    ///   - failures: Failures in a row that open the breaker.
    ///   - coolDown: Time the breaker stays open before admitting trial calls. Default 60 s.
    ///   - halfOpenCalls: Trial calls admitted at once when half-open. Default 1.
    ///   - successesToClose: Successful trial calls that close it. Default 1.
    public static func consecutiveFailures(
        _ failures: Int,
        coolDown: Duration = .seconds(60),
        halfOpenCalls: Int = 1,
        successesToClose: Int = 1
    ) -> CircuitBreakerPolicy {
        CircuitBreakerPolicy(
            model: .consecutive(failures: failures),
            coolDown: coolDown,
            halfOpenCalls: halfOpenCalls,
            successesToClose: successesToClose,
            window: .seconds(10),
            buckets: 1
        )
    }

    /// Open when, over the rolling `window`, at least `minimumCalls` calls were made and the
    /// fraction of them that failed is at least `ratio`.
    public static func failureRatio(
        _ ratio: Double,
        minimumCalls: Int,
        window: Duration = .seconds(10),
        coolDown: Duration = .seconds(60),
        halfOpenCalls: Int = 1,
        successesToClose: Int = 1
    ) -> CircuitBreakerPolicy {
        CircuitBreakerPolicy(
            model: .ratio(ratio, minimumCalls: minimumCalls),
            coolDown: coolDown,
            halfOpenCalls: halfOpenCalls,
            successesToClose: successesToClose,
            window: window,
            buckets: 10
        )
    }

    /// Hystrix's circuit breaker with Hystrix's defaults.
    /// - Parameters:
    ///   - errorThresholdPercentage: Error percentage over the window that opens it. Default 50.
    ///   - requestVolumeThreshold: Calls the window must hold before it may open. Default 20.
    ///   - window: The rolling statistical window. Default 10 s.
    ///   - buckets: Buckets of the window. Default 10.
    ///   - sleepWindow: Time open before a trial call. Default 5 s.
    ///   - maxConcurrentCalls: Calls running at once; more are refused. Default 10.
    ///   - timeout: Time a call may take; a slower one is cancelled and counts as an error. Default 1 s.
    public static func hystrix(
        errorThresholdPercentage: Int = 50,
        requestVolumeThreshold: Int = 20,
        window: Duration = .seconds(10),
        buckets: Int = 10,
        sleepWindow: Duration = .seconds(5),
        maxConcurrentCalls: Int = 10,
        timeout: Duration = .seconds(1)
    ) -> CircuitBreakerPolicy {
        CircuitBreakerPolicy(
            model: .hystrix(
                errorPercentage: errorThresholdPercentage,
                requestVolume: requestVolumeThreshold,
                maxConcurrentCalls: maxConcurrentCalls,
                timeout: timeout
            ),
            coolDown: sleepWindow,
            halfOpenCalls: 1,
            successesToClose: 1,
            window: window,
            buckets: buckets
        )
    }

    /// Client-side adaptive throttling from Google's SRE book: refuse each call with probability
    /// `max(0, (requests − k·accepts) / (requests + 1))`, where `requests` counts the calls made
    /// in the window (refused ones included) and `accepts` those the backend answered without a
    /// failure. `k` = 2 lets through twice what the backend accepts; lower is more aggressive.
    public static func adaptiveThrottling(
        k: Double = 2,
        window: Duration = .seconds(10),
        buckets: Int = 40
    ) -> CircuitBreakerPolicy {
        CircuitBreakerPolicy(
            model: .adaptive(k: k),
            coolDown: .zero,
            halfOpenCalls: 1,
            successesToClose: 1,
            window: window,
            buckets: buckets
        )
    }

    func validate(_ check: ConfigurationCheck) throws {
        switch self.model {
        case .consecutive(let failures):
            try check.positive(failures, "failures")
        case .ratio(let ratio, let minimumCalls):
            try check.ratio(ratio, "failure ratio")
            try check.positive(minimumCalls, "minimumCalls")
        case .hystrix(let errorPercentage, let requestVolume, let maxConcurrentCalls, let timeout):
            try check.that(
                (1...100).contains(errorPercentage),
                "errorThresholdPercentage must be in 1...100, got \(errorPercentage)"
            )
            try check.positive(requestVolume, "requestVolumeThreshold")
            try check.positive(maxConcurrentCalls, "maxConcurrentCalls")
            try check.positive(timeout, "timeout")
        case .adaptive(let k):
            try check.that(k >= 1 && k.isFinite, "k must be a finite number of at least 1, got \(k)")
        }
        if case .adaptive = self.model {} else {
            try check.positive(self.coolDown, "coolDown")
        }
        try check.positive(self.halfOpenCalls, "halfOpenCalls")
        try check.positive(self.successesToClose, "successesToClose")
        try check.positive(self.window, "window")
        try check.positive(self.buckets, "buckets")
        try check.that(
            self.window.clampedNanoseconds / Int64(self.buckets) > 0,
            "window \(self.window) is too short for \(self.buckets) buckets"
        )
    }

    /// The refusal reasons this policy can produce, for the refusal counters.
    var refusalReasons: [RefusedError.Reason] {
        switch self.model {
        case .consecutive, .ratio: [.circuitOpen, .halfOpenFull]
        case .hystrix: [.circuitOpen, .halfOpenFull, .tooManyConcurrentCalls]
        case .adaptive: [.throttled]
        }
    }
}
