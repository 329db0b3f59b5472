import Kite
import KiteTelemetry
import NIOCore
import Tracing

/// Runs each request a responder handles in a span that continues the requester's trace, under
/// the requester's deadline, and records `messaging.process.duration`.
///
/// Per message: a span `process <subject>` of kind consumer with OpenTelemetry's messaging
/// attributes (`messaging.system` `nats`, `messaging.destination.name` (the message's subject),
/// `messaging.operation.type` and `.name` `process`, `messaging.consumer.group.name`,
/// `messaging.message.body.size`, `error.type`); its status is error when the call failed
/// (``CallOutcome/failure``). The metric is
/// `messaging_process_duration_seconds{messaging_system, messaging_operation_name, messaging_destination_name, error_type}`,
/// the destination being the subject served (a wildcard subscription's, not each message's).
struct NATSServerInstrumentation: Sendable {
    let tracer: KiteTracer
    let durations: MetricFamily<Histogram>

    init(telemetry: Telemetry) {
        self.tracer = telemetry.tracer
        self.durations = telemetry.registry.histogram(
            "messaging_process_duration_seconds",
            help: "Duration of processing NATS requests (OpenTelemetry messaging.process.duration).",
            labelNames: ["messaging_system", "messaging_operation_name", "messaging_destination_name", "error_type"]
        )
    }

    /// The names and success series of one served subject, resolved once.
    struct Subject: Sendable {
        let subject: String
        let queue: String?
        let spanName: String
        let okDurations: Histogram
        let durations: MetricFamily<Histogram>

        func durations(errorType: String) -> Histogram {
            errorType.isEmpty ? self.okDurations : self.durations.labels(["nats", "process", self.subject, errorType])
        }
    }

    func subject(_ subject: String, queue: String?) -> Subject {
        Subject(
            subject: subject,
            queue: queue,
            spanName: "process " + subject,
            okDurations: self.durations.labels(["nats", "process", subject, ""]),
            durations: self.durations
        )
    }

    /// Handles `message`: `body` runs in the span's context and gives the reply's payload; an
    /// error it throws becomes the error answer (``NATSErrorHeaders``).
    func process(
        _ subject: Subject,
        message: NATSMessage,
        body: () async throws -> ByteBuffer
    ) async -> (NATSHeaders?, ByteBuffer) {
        let start = ContinuousClock.now
        var context = ServiceContext.current ?? .topLevel
        if let headers = message.headers {
            self.tracer.extract(headers, into: &context, using: NATSHeadersExtractor())
            if let milliseconds = headers[NATSTimeoutHeader.name].flatMap(NATSTimeoutHeader.parse) {
                context.deadline = start.advanced(by: milliseconds)
            }
        }
        let span = self.tracer.startSpan(subject.spanName, context: context, ofKind: .consumer)
        if span.isRecording {
            span.setAttribute("messaging.system", "nats")
            span.setAttribute("messaging.destination.name", message.subject)
            span.setAttribute("messaging.operation.type", "process")
            span.setAttribute("messaging.operation.name", "process")
            if let queue = subject.queue { span.setAttribute("messaging.consumer.group.name", queue) }
            span.setAttribute("messaging.message.body.size", message.payload.readableBytes)
        }
        var errorType = ""
        defer {
            span.end()
            subject.durations(errorType: errorType).observe(start.duration(to: .now), for: span)
        }
        do {
            let payload = try await ServiceContext.$current.withValue(span.context) { try await body() }
            return (nil, payload)
        } catch {
            errorType = span.recordCallError(error).name
            let (headers, payload) = NATSErrorHeaders.answer(error)
            return (headers, payload)
        }
    }
}
