import Logging
import NIOCore
import Synchronization

/// Exports span batches to an OpenTelemetry collector over OTLP/HTTP (`POST /v1/traces`).
///
/// Plug it into the ``BatchSpanProcessor`` (``Telemetry`` does when `OTEL_TRACES_EXPORTER=otlp`,
/// or when an OTLP endpoint is set and `OTEL_TRACES_EXPORTER` is not). The processor's queue is
/// the bounded buffer. Behind the processor, each span is encoded when it ends, on the thread that
/// ends it, and the queue holds its bytes; a batch becomes one request, its spans' bytes copied
/// once into the buffer that is sent, with retries (see ``OTLPExporterConfiguration``). Called
/// directly, ``export(_:)`` encodes the records it is given.
public final class OTLPSpanExporter: SpanExporter, SpanEncodingExporter {
    private let encoder: Mutex<OTLPTraceEncoder>
    /// The limits applied while encoding (the encoder's, readable without its lock).
    private let limits: SpanLimits
    /// The resource of every request (the encoder's, readable without its lock).
    private let resource: OTLPResource
    private let sender: OTLPHTTPSender
    private let limited: MetricFamily<Counter>

    /// Creates an exporter.
    /// - Parameters:
    ///   - configuration: Where to send.
    ///   - resource: The resource of every request.
    ///   - limits: The span limits applied while encoding (value length, event and link attributes).
    ///   - registry: Where the exporter's own metrics go.
    ///   - logger: Where delivery problems are logged.
    public init(
        configuration: OTLPExporterConfiguration,
        resource: OTLPResource,
        limits: SpanLimits = SpanLimits(),
        registry: MetricRegistry,
        logger: Logger
    ) {
        self.encoder = Mutex(OTLPTraceEncoder(resource: resource, limits: limits))
        self.limits = limits
        self.resource = resource
        self.sender = OTLPHTTPSender(signal: .traces, configuration: configuration, registry: registry, logger: logger)
        self.limited = registry.counter(
            "kite_span_limit_applied_total",
            help: "Attribute values cut and event or link attributes left out by the span limits while encoding.",
            labelNames: ["action"]
        )
    }

    public func export(_ batch: [SpanRecord]) async throws {
        let (body, stats) = self.encoder.withLock { encoder in
            let stats = encoder.encode(batch)
            return (encoder.withBytes { ByteBuffer(bytes: $0) }, stats)
        }
        self.count(stats)
        try await self.sender.send(body)
    }

    func encodeEnded(_ span: SpanRecord, into writer: inout ProtobufWriter) {
        self.count(OTLPTraceEncoder.encodeSpanField(span, limits: self.limits, into: &writer))
    }

    func export(encoded batch: EncodedSpanBatch, within timeout: Duration) async throws {
        try await self.sender.send(OTLPTraceEncoder.request(batch, resource: self.resource), within: timeout)
    }

    /// Counts what the span limits changed while encoding.
    private func count(_ stats: OTLPTraceEncoder.Stats) {
        if stats.truncatedValues > 0 { self.limited.labels("truncated_value").increment(by: stats.truncatedValues) }
        if stats.droppedAttributes > 0 { self.limited.labels("dropped_attribute").increment(by: stats.droppedAttributes) }
    }
}
