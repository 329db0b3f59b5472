import Logging
import NIOCore
import Synchronization

/// Exports log record batches to an OpenTelemetry collector over OTLP/HTTP (`POST /v1/logs`).
///
/// Plug it into a ``BatchLogRecordProcessor`` (``Telemetry`` does when `OTEL_LOGS_EXPORTER`
/// lists `otlp`, or when an OTLP endpoint is set and `OTEL_LOGS_EXPORTER` is not).
public final class OTLPLogRecordExporter: LogRecordExporter {
    private let encoder: Mutex<OTLPLogEncoder>
    private let sender: OTLPHTTPSender

    /// Creates an exporter.
    /// - Parameters:
    ///   - configuration: Where to send.
    ///   - resource: The resource of every request.
    ///   - registry: Where the exporter's own metrics go.
    ///   - logger: Where delivery problems are logged. Give it a logger that does not itself
    ///     export over OTLP, or a collector that is down would be told so over OTLP.
    public init(configuration: OTLPExporterConfiguration, resource: OTLPResource, registry: MetricRegistry, logger: Logger) {
        self.encoder = Mutex(OTLPLogEncoder(resource: resource))
        self.sender = OTLPHTTPSender(signal: .logs, configuration: configuration, registry: registry, logger: logger)
    }

    public func export(_ batch: [LogRecord]) async throws {
        try await self.export(batch, within: nil)
    }

    /// Exports one batch, ending (failed, if it must) within `timeout` as well as within the
    /// destination's: what ``BatchLogRecordProcessor`` calls, without a timer of its own.
    func export(_ batch: [LogRecord], within timeout: Duration?) async throws {
        let body = self.encoder.withLock { encoder in
            encoder.encode(batch)
            return encoder.withBytes { ByteBuffer(bytes: $0) }
        }
        try await self.sender.send(body, within: timeout)
    }
}
