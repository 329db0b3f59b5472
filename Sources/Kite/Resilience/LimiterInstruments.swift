import KiteTelemetry
import Synchronization

/// The metrics every admission-controlling component reports — rate limiters, bulkheads, the
/// adaptive concurrency limit and the load shedder — under one set of names, told apart by the
/// `limiter` (its name) and `kind` labels, so one dashboard panel shows them all:
///
/// - `kite_limiter_admitted_total{limiter,kind}` — calls let through;
/// - `kite_limiter_refused_total{limiter,kind,reason}` — calls refused (`reason` is
///   ``RefusedError/Reason``'s raw value);
/// - `kite_limiter_waited_total{limiter,kind}` and the histogram
///   `kite_limiter_wait_duration_seconds{limiter,kind}` — calls that had to wait for admission,
///   and how long (refused ones included);
/// - `kite_limiter_limit{limiter,kind}` — the current limit (calls in flight; for a rate limiter,
///   calls per second);
/// - `kite_limiter_in_flight{limiter,kind}` — calls running now, for the components that count
///   them (not rate limiters).
///
/// The gauges are read from the component when the registry is collected, so admitting a call
/// costs no gauge update.
final class LimiterInstruments: Sendable {
    let name: String
    let kind: String
    let admitted: Counter
    let waited: Counter
    let waitDurations: Histogram
    private let limit: Gauge
    private let refusals: [RefusedError.Reason: Counter]
    private let registry: MetricRegistry

    init(name: String, kind: String, reasons: [RefusedError.Reason], telemetry: Telemetry) {
        self.name = name
        self.kind = kind
        let registry = telemetry.registry
        self.registry = registry
        self.admitted = registry.counter(
            "kite_limiter_admitted_total",
            help: "Calls a limiter, bulkhead or load shedder let through.",
            labelNames: ["limiter", "kind"]
        ).labels(name, kind)
        let refused = registry.counter(
            "kite_limiter_refused_total",
            help: "Calls a limiter, bulkhead or load shedder refused, by reason.",
            labelNames: ["limiter", "kind", "reason"]
        )
        self.refusals = Dictionary(uniqueKeysWithValues: reasons.map { ($0, refused.labels(name, kind, $0.rawValue)) })
        self.waited = registry.counter(
            "kite_limiter_waited_total",
            help: "Calls that waited for admission.",
            labelNames: ["limiter", "kind"]
        ).labels(name, kind)
        self.waitDurations = registry.histogram(
            "kite_limiter_wait_duration_seconds",
            help: "Time calls waited for admission, in seconds.",
            labelNames: ["limiter", "kind"]
        ).labels(name, kind)
        self.limit = registry.gauge(
            "kite_limiter_limit",
            help: "Current limit: calls in flight, or calls per second for a rate limiter.",
            labelNames: ["limiter", "kind"]
        ).labels(name, kind)
    }

    func refused(_ reason: RefusedError.Reason) {
        self.refusals[reason]?.increment()
    }

    /// Records a wait for admission.
    func recordWait(nanoseconds: Int64) {
        self.waited.increment()
        self.waitDurations.observe(Double(max(nanoseconds, 0)) / 1e9)
    }

    /// Sets the limit gauge now (for limits that change rarely).
    func setLimit(_ value: Double) {
        self.limit.set(value)
    }

    /// Keeps ``admitted`` from a count the component keeps itself, modulo 2³², read each time the
    /// registry is collected (so the component counts without touching another atomic). Capture
    /// the component weakly.
    func publishAdmitted(_ read: @escaping @Sendable () -> UInt32?) {
        let admitted = self.admitted
        let last = Mutex<UInt32>(0)
        self.registry.addCollectHook {
            guard let now = read() else { return }
            let delta = last.withLock { last in
                defer { last = now }
                return now &- last
            }
            admitted.increment(by: Int(delta))
        }
    }

    /// Reads the gauges from the component each time the registry is collected. Capture the
    /// component weakly: the registry keeps the closure.
    func publish(inFlight: (@Sendable () -> Int?)?, limit: (@Sendable () -> Double?)?) {
        let inFlightGauge = inFlight.map { _ in
            self.registry.gauge(
                "kite_limiter_in_flight",
                help: "Calls in flight through a limiter.",
                labelNames: ["limiter", "kind"]
            ).labels(self.name, self.kind)
        }
        let limitGauge = self.limit
        self.registry.addCollectHook {
            if let value = inFlight?() { inFlightGauge?.set(Double(value)) }
            if let value = limit?() { limitGauge.set(value) }
        }
    }
}
