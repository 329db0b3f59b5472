import KiteTelemetry
import Logging
import Tracing

/// The metrics, log and span events of one ``CircuitBreaker``.
final class CircuitBreakerInstruments: Sendable {
    let name: String
    let state: Gauge
    let transitions: MetricFamily<Counter>
    let refusals: [RefusedError.Reason: Counter]
    let logger: Logger
    let tracer: KiteTracer

    init(name: String, reasons: [RefusedError.Reason], telemetry: Telemetry) {
        self.name = name
        let registry = telemetry.registry
        self.state = registry.gauge(
            "kite_circuit_breaker_state",
            help: "State of a circuit breaker: 0 closed, 1 half-open, 2 open.",
            labelNames: ["breaker"]
        ).labels(name)
        self.transitions = registry.counter(
            "kite_circuit_breaker_transitions_total",
            help: "State changes of a circuit breaker.",
            labelNames: ["breaker", "from", "to"]
        )
        let refusals = registry.counter(
            "kite_circuit_breaker_refusals_total",
            help: "Calls a circuit breaker refused, by reason.",
            labelNames: ["breaker", "reason"]
        )
        self.refusals = Dictionary(uniqueKeysWithValues: reasons.map { ($0, refusals.labels(name, $0.rawValue)) })
        var logger = telemetry.logger
        logger[metadataKey: "breaker"] = "\(name)"
        self.logger = logger
        self.tracer = telemetry.tracer
        self.state.set(0)
    }

    func refused(_ reason: RefusedError.Reason) {
        self.refusals[reason]?.increment()
    }

    /// Reports a transition: gauge, counter, one log line, and an event on the span of the call
    /// that caused it.
    func record(_ transition: CircuitBreaker.Transition) {
        self.state.set(Double(transition.to.rawValue))
        self.transitions.labels(self.name, transition.from.label, transition.to.label).increment()
        self.logger.log(
            level: transition.to == .open ? .warning : .info,
            "circuit breaker state change",
            metadata: [
                "from": "\(transition.from.label)",
                "to": "\(transition.to.label)",
                "cause": "\(transition.cause)",
            ]
        )
        if let context = ServiceContext.current, let span = self.tracer.activeSpan(identifiedBy: context) {
            span.addEvent(
                SpanEvent(
                    name: "circuit_breaker.state_change",
                    attributes: [
                        "kite.circuit_breaker.name": .string(self.name),
                        "kite.circuit_breaker.from": .string(transition.from.label),
                        "kite.circuit_breaker.to": .string(transition.to.label),
                        "kite.circuit_breaker.cause": .string(transition.cause),
                    ]
                )
            )
        }
    }
}
