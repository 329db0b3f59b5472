import Kite
import KiteTelemetry
import Tracing

/// Runs each request a client endpoint makes in a span whose context travels in the message's
/// headers, with the time left before the caller's deadline, and records
/// `messaging.client.operation.duration`.
///
/// Per request: a span `request <subject>` of kind client with `messaging.system` `nats`,
/// `messaging.destination.name`, `messaging.operation.type` `publish`,
/// `messaging.operation.name` `request` and `error.type`; its status is error when the call
/// failed (``CallOutcome/failure``: no reply, no responders, a failure the responder answered)
/// — a business error is an answer. The metric is
/// `messaging_client_operation_duration_seconds{messaging_system, messaging_operation_name, messaging_destination_name, error_type}`.
struct NATSClientInstrumentation: Sendable {
    let tracer: KiteTracer
    let durations: MetricFamily<Histogram>

    init(telemetry: Telemetry) {
        self.tracer = telemetry.tracer
        self.durations = telemetry.registry.histogram(
            "messaging_client_operation_duration_seconds",
            help: "Duration of NATS requests made (OpenTelemetry messaging.client.operation.duration).",
            labelNames: ["messaging_system", "messaging_operation_name", "messaging_destination_name", "error_type"]
        )
    }

    /// The names and success series of one requested subject, resolved once.
    struct Subject: Sendable {
        let subject: String
        let spanName: String
        let okDurations: Histogram
        let durations: MetricFamily<Histogram>

        func durations(errorType: String) -> Histogram {
            errorType.isEmpty ? self.okDurations : self.durations.labels(["nats", "request", self.subject, errorType])
        }
    }

    func subject(_ subject: String) -> Subject {
        Subject(
            subject: subject,
            spanName: "request " + subject,
            okDurations: self.durations.labels(["nats", "request", subject, ""]),
            durations: self.durations
        )
    }

    /// Makes one request: `body` gets the headers to send (trace context, `Kite-Timeout`) and
    /// the time it may wait.
    func request<Response>(
        _ subject: Subject,
        timeout fallback: Duration,
        body: (NATSHeaders, Duration) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        let parent = ServiceContext.current ?? .topLevel
        let span = self.tracer.startSpan(subject.spanName, context: parent, ofKind: .client)
        if span.isRecording {
            span.setAttribute("messaging.system", "nats")
            span.setAttribute("messaging.destination.name", subject.subject)
            span.setAttribute("messaging.operation.type", "publish")
            span.setAttribute("messaging.operation.name", "request")
        }
        var errorType = ""
        defer {
            span.end()
            subject.durations(errorType: errorType).observe(start.duration(to: .now), for: span)
        }
        do {
            let timeout = CallDeadline.timeout(in: parent, fallback: fallback, now: start) ?? fallback
            guard timeout > .zero else { throw NATSError.timedOut(subject: subject.subject, after: .zero) }
            var headers = NATSHeaders()
            self.tracer.inject(span.context, into: &headers, using: NATSHeadersInjector())
            headers[NATSTimeoutHeader.name] = NATSTimeoutHeader.value(timeout)
            return try await body(headers, timeout)
        } catch {
            errorType = span.recordCallError(error).name
            throw error
        }
    }
}
