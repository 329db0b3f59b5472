import KiteTelemetry

/// The metrics of the NATS clients of one pipeline.
///
/// `kite_nats_connections` (connected clients), `kite_nats_reconnects_total`,
/// `kite_nats_connect_failures_total`, `kite_nats_server_errors_total` (`-ERR`),
/// `kite_nats_dropped_messages_total{reason}` (`reconnect_buffer_full`: a publish refused while
/// the buffer was full; `slow_consumer`: a received message a full subscription could not hold;
/// `late_reply`: a reply that came after its request had given up), and OpenTelemetry's
/// `messaging_client_consumed_messages_total{messaging_system, messaging_destination_subscription_name}`.
struct NATSClientMetrics: Sendable {
    let connections: Gauge
    let reconnects: Counter
    let connectFailures: Counter
    let serverErrors: Counter
    let bufferFull: Counter
    let slowConsumer: Counter
    let lateReplies: Counter
    let consumed: MetricFamily<Counter>

    init(registry: MetricRegistry) {
        self.connections = registry.gauge("kite_nats_connections", help: "NATS clients connected to a server now.").labels()
        self.reconnects = registry.counter(
            "kite_nats_reconnects_total",
            help: "Connections to a NATS server made again after one was lost."
        ).labels()
        self.connectFailures = registry.counter(
            "kite_nats_connect_failures_total",
            help: "Attempts to connect to a NATS server that failed."
        ).labels()
        self.serverErrors = registry.counter("kite_nats_server_errors_total", help: "-ERR answers from NATS servers.").labels()
        let dropped = registry.counter(
            "kite_nats_dropped_messages_total",
            help: "NATS messages dropped: not sent because the reconnect buffer was full, not delivered because a subscription was full, replies that came too late.",
            labelNames: ["reason"]
        )
        self.bufferFull = dropped.labels("reconnect_buffer_full")
        self.slowConsumer = dropped.labels("slow_consumer")
        self.lateReplies = dropped.labels("late_reply")
        self.consumed = registry.counter(
            "messaging_client_consumed_messages_total",
            help: "Messages delivered to subscriptions (OpenTelemetry messaging.client.consumed.messages).",
            labelNames: ["messaging_system", "messaging_destination_subscription_name"]
        )
    }

    /// The consumed-messages counter of a subscription to `subject`.
    func consumed(subject: String) -> Counter {
        self.consumed.labels("nats", subject)
    }
}
