import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// Pushes the registry to an OpenTelemetry collector over OTLP/HTTP (`POST /v1/metrics`) every
/// `metricExportInterval`, and once more on graceful shutdown.
///
/// Each export collects the registry (the same series Prometheus scrapes and StatsD pushes),
/// encodes them with ``OTLPMetricEncoder`` and sends them with retries. An export that fails loses
/// nothing: cumulative points carry the totals anyway, and delta points are measured from the last
/// export that was delivered. Points are counted in `kite_metric_exporter_exported_points_total`
/// and `kite_metric_exporter_failed_points_total`.
public final class OTLPMetricExporter: Service {
    /// Where to send, how often.
    public let configuration: OTLPExporterConfiguration
    private let registry: MetricRegistry
    private let encoder: Mutex<OTLPMetricEncoder>
    private let sender: OTLPHTTPSender
    private let exported: Counter
    private let failed: Counter
    /// One export at a time: a delta export measures from the last delivered one, so two at once
    /// would send the same changes twice.
    private let exportLock = AsyncLock()

    /// Creates an exporter.
    /// - Parameters:
    ///   - configuration: Where to send, how often, which temporality.
    ///   - resource: The resource of every request.
    ///   - registry: What to export, and where the exporter's own metrics go.
    ///   - logger: Where delivery problems are logged.
    public init(configuration: OTLPExporterConfiguration, resource: OTLPResource, registry: MetricRegistry, logger: Logger) {
        self.configuration = configuration
        self.registry = registry
        self.encoder = Mutex(OTLPMetricEncoder(resource: resource, temporality: configuration.temporality))
        self.sender = OTLPHTTPSender(signal: .metrics, configuration: configuration, registry: registry, logger: logger)
        self.exported = registry.counter(
            "kite_metric_exporter_exported_points_total",
            help: "Metric data points delivered over OTLP."
        ).labels()
        self.failed = registry.counter(
            "kite_metric_exporter_failed_points_total",
            help: "Metric data points in OTLP exports that failed (sent again with the next export)."
        ).labels()
    }

    /// Collects the registry and sends it now, after any export under way has finished. Returns
    /// whether it was delivered.
    @discardableResult
    public func export() async -> Bool {
        await self.exportLock.withLock {
            let samples = self.registry.collect()
            let (body, points) = self.encoder.withLock { encoder in
                let points = encoder.encode(samples)
                return (encoder.withBytes { ByteBuffer(bytes: $0) }, points)
            }
            guard points > 0 else { return true }
            do {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    let timeout = self.configuration.metricExportTimeout
                    group.addTask { try await self.sender.send(body) }
                    group.addTask {
                        try await Task.sleep(for: timeout)
                        throw OTLPHTTPSender.DeliveryError(description: "metric export timed out after \(timeout)")
                    }
                    try await group.next()
                    group.cancelAll()
                }
                self.encoder.withLock { $0.commit() }
                self.exported.increment(by: points)
                return true
            } catch {
                self.failed.increment(by: points)
                return false
            }
        }
    }

    /// The number of series whose delta baseline the encoder keeps.
    var baselineCount: Int { self.encoder.withLock { $0.baselineCount } }

    /// Exports every interval until graceful shutdown or cancellation, then exports once more.
    public func run() async throws {
        let interval = self.configuration.metricExportInterval
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: interval)
                } catch {
                    return
                }
                await self.export()
            }
        }
        await self.export()
    }
}
