import KiteTelemetry
import Tracing

extension Endpointer {
    /// One endpoint that sends each call to the instance `balancer` picks, and on a failure tries
    /// again on another as `retry` says — go-kit's `lb.Retry` over a balancer.
    ///
    /// Around every attempt it keeps the instance's ``InstanceLoad`` (calls in flight, latency
    /// average; a failed attempt counts as at least ``failurePenalty``, so an instance that fails
    /// fast does not draw traffic to itself) and counts the pick in
    /// `kite_balancer_picks_total{service, instance}`. Per call it records
    /// `kite_balancer_attempts{service}` (histogram), and each retry in
    /// `kite_balancer_retries_total{service}` and as a `balancer.retry` event on the caller's span;
    /// when the instances changed while the call ran, the span gets a `discovery.endpoints_changed`
    /// event.
    ///
    /// With no instance to call it throws ``NoInstancesError``; when more than one attempt failed,
    /// ``BalancerRetryError`` listing them all; after a single failed attempt, that attempt's error.
    /// - Parameters:
    ///   - balancer: Picks the instance of each attempt. Default round robin.
    ///   - retry: When to try another instance. Default ``BalancerRetry/none``.
    public func balanced(
        by balancer: some LoadBalancer = .roundRobin,
        retry: BalancerRetry = .none
    ) -> Endpoint<Request, Response> {
        let caller = BalancedCaller(endpointer: self, balancer: balancer, retry: retry)
        return Endpoint { request in
            guard let timeout = retry.timeout else { return try await caller.call(request) }
            return try await withTimeout(timeout, name: "\(self.service) balancer", clock: .system) {
                try await caller.call(request)
            }
        }
    }

    /// The latency a failed attempt is recorded as, at least: one second.
    public static var failurePenalty: Duration { .seconds(1) }
}

/// The state behind one load-balanced endpoint.
final class BalancedCaller<Request: Sendable, Response: Sendable, Balancer: LoadBalancer>: Sendable {
    let endpointer: Endpointer<Request, Response>
    let balancer: Balancer
    let retry: BalancerRetry
    let tracer: KiteTracer
    let attempts: Histogram
    let retries: Counter
    let budgetExhausted: Counter

    init(endpointer: Endpointer<Request, Response>, balancer: Balancer, retry: BalancerRetry) {
        self.endpointer = endpointer
        self.balancer = balancer
        self.retry = retry
        let telemetry = endpointer.telemetry
        self.tracer = telemetry.tracer
        let registry = telemetry.registry
        let service = endpointer.service
        self.attempts = registry.histogram(
            "kite_balancer_attempts",
            help: "Attempts per call of a load-balanced endpoint.",
            labelNames: ["service"],
            buckets: .linear(start: 1, width: 1, count: 10)
        ).labels(service)
        self.retries = registry.counter(
            "kite_balancer_retries_total",
            help: "Attempts of load-balanced calls sent to another instance after a failure.",
            labelNames: ["service"]
        ).labels(service)
        self.budgetExhausted = registry.counter(
            "kite_balancer_retry_budget_exhausted_total",
            help: "Retries of load-balanced calls not made because the retry budget was spent.",
            labelNames: ["service"]
        ).labels(service)
    }

    func call(_ request: Request) async throws -> Response {
        self.retry.budget?.recordCall()
        // The version of the instances the first pick saw, read with it under one lock.
        var startVersion: UInt64?
        defer { if let startVersion { self.noteChange(since: startVersion) } }
        var failed: [BalancerRetryError.Attempt] = []
        while true {
            let entry: Endpointer<Request, Response>.Entry
            do {
                let picked = try self.endpointer.pick(with: self.balancer, avoiding: failed.map(\.instance))
                if startVersion == nil { startVersion = picked.version }
                entry = picked.entry
            } catch {
                self.attempts.observe(Double(failed.count + 1))
                throw Self.finalError(error, instance: "", after: failed)
            }
            entry.picks.increment()
            entry.load.begin()
            let start = ContinuousClock.now
            do {
                let response = try await entry.endpoint(request)
                entry.load.end(seconds: start.duration(to: .now).seconds)
                self.attempts.observe(Double(failed.count + 1))
                return response
            } catch {
                let elapsed = start.duration(to: .now)
                let outcome = CallOutcome(of: error)
                let recorded = outcome == .failure ? max(elapsed, Endpointer<Request, Response>.failurePenalty) : elapsed
                entry.load.end(seconds: recorded.seconds)
                guard self.shouldRetry(after: error, attempt: failed.count + 1) else {
                    self.attempts.observe(Double(failed.count + 1))
                    throw Self.finalError(error, instance: entry.load.instance, after: failed)
                }
                failed.append(BalancerRetryError.Attempt(instance: entry.load.instance, error: error))
                self.retries.increment()
                self.addEvent("balancer.retry") { attributes in
                    attributes["kite.balancer.instance"] = entry.load.instance
                    attributes["kite.balancer.attempt"] = failed.count
                    attributes["error.type"] = String(describing: type(of: error))
                }
            }
        }
    }

    private func shouldRetry(after error: any Error, attempt: Int) -> Bool {
        guard attempt < self.retry.maxAttempts, !Task.isCancelled, self.retry.isRetryable(error) else { return false }
        if let left = ResilienceClock.nanosecondsToContextDeadline(), left <= 0 { return false }
        if let budget = self.retry.budget, !budget.withdraw() {
            self.budgetExhausted.increment()
            return false
        }
        return true
    }

    /// The error a call ends with: the attempt's own when it was the only one.
    private static func finalError(
        _ error: any Error,
        instance: String,
        after failed: [BalancerRetryError.Attempt]
    ) -> any Error {
        guard !failed.isEmpty else { return error }
        return BalancerRetryError(attempts: failed + [BalancerRetryError.Attempt(instance: instance, error: error)])
    }

    /// Tells the caller's span that the instances changed while its call ran.
    private func noteChange(since version: UInt64) {
        guard self.endpointer.version != version else { return }
        let instances = self.endpointer.instances.count
        self.addEvent("discovery.endpoints_changed") { attributes in
            attributes["kite.discovery.service"] = self.endpointer.service
            attributes["kite.discovery.instances"] = instances
        }
    }

    private func addEvent(_ name: String, _ build: (inout SpanAttributes) -> Void) {
        guard let context = ServiceContext.current, let span = self.tracer.activeSpan(identifiedBy: context) else { return }
        var attributes = SpanAttributes()
        build(&attributes)
        span.addEvent(SpanEvent(name: name, attributes: attributes))
    }
}
