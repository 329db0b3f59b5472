import CoreMetrics
import Synchronization

/// A swift-metrics backend that records into a ``MetricRegistry``.
///
/// Bootstrap it globally (`MetricsSystem.bootstrap(KiteMetricsFactory(registry: registry))`, which
/// ``Telemetry/bootstrap(serviceName:environment:configure:)`` does) or pass it as `factory:` to
/// metrics you create. Libraries that use swift-metrics (Hummingbird, AsyncHTTPClient) then show
/// up in the same Prometheus scrape. The mapping:
///
/// | swift-metrics | Prometheus |
/// |---|---|
/// | `Counter`, `FloatingPointCounter` | counter; `_total` appended when missing |
/// | `Meter`, `Recorder(aggregate: false)` | gauge |
/// | `Recorder(aggregate: true)` | histogram with the registry's buckets for that name |
/// | `Timer` | histogram in seconds; `_seconds` appended when missing |
///
/// Labels are sanitised by Prometheus' rules (`http.server.duration` → `http_server_duration`);
/// dimensions become labels. `destroy` removes the series from the exposition.
public struct KiteMetricsFactory: MetricsFactory {
    /// The registry this factory records into.
    public let registry: MetricRegistry
    private let removals: Removals

    /// Creates a factory over `registry`.
    public init(registry: MetricRegistry) {
        self.registry = registry
        self.removals = Removals()
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        let name = MetricName.ensuring(suffix: "_total", on: MetricName.sanitized(label))
        let family: MetricFamily<Counter> = self.registry.family(name: name, help: Self.help(label), labelNames: nil, configuration: ())
        return self.removals.track(CounterHandlerBox(family.labels(pairs: dimensions)), in: family)
    }

    /// swift-metrics has no help text; the exposition says where the metric came from.
    private static func help(_ label: String) -> String {
        "\(label) (recorded through swift-metrics)"
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        let name = MetricName.ensuring(suffix: "_total", on: MetricName.sanitized(label))
        let family: MetricFamily<Counter> = self.registry.family(name: name, help: Self.help(label), labelNames: nil, configuration: ())
        return self.removals.track(CounterHandlerBox(family.labels(pairs: dimensions)), in: family)
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        self.gauge(label: label, dimensions: dimensions)
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return self.gauge(label: label, dimensions: dimensions) }
        return self.histogram(name: MetricName.sanitized(label), label: label, dimensions: dimensions, scale: 1)
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        let name = MetricName.ensuring(suffix: "_seconds", on: MetricName.sanitized(label))
        return self.histogram(name: name, label: label, dimensions: dimensions, scale: 1e-9)
    }

    private func gauge(label: String, dimensions: [(String, String)]) -> GaugeHandlerBox {
        let family: MetricFamily<Gauge> = self.registry.family(
            name: MetricName.sanitized(label),
            help: Self.help(label),
            labelNames: nil,
            configuration: ()
        )
        return self.removals.track(GaugeHandlerBox(family.labels(pairs: dimensions)), in: family)
    }

    private func histogram(name: String, label: String, dimensions: [(String, String)], scale: Double) -> HistogramHandlerBox {
        let family: MetricFamily<Histogram> = self.registry.family(
            name: name,
            help: Self.help(label),
            labelNames: nil,
            configuration: self.registry.histogramConfiguration(forMetricNamed: name)
        )
        return self.removals.track(HistogramHandlerBox(family.labels(pairs: dimensions), scale: scale), in: family)
    }

    public func destroyCounter(_ handler: any CounterHandler) { self.removals.remove(handler) }
    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) { self.removals.remove(handler) }
    public func destroyMeter(_ handler: any MeterHandler) { self.removals.remove(handler) }
    public func destroyRecorder(_ handler: any RecorderHandler) { self.removals.remove(handler) }
    public func destroyTimer(_ handler: any TimerHandler) { self.removals.remove(handler) }

    /// How to take each handed-out series out of its family again.
    private final class Removals: Sendable {
        private let byObject = Mutex<[ObjectIdentifier: @Sendable () -> Void]>([:])

        func track<Box: SeriesBox>(_ box: Box, in family: MetricFamily<Box.Series>) -> Box {
            self.byObject.withLock {
                $0[ObjectIdentifier(box)] = { [weak family, series = box.series] in
                    family?.remove(series)
                }
            }
            return box
        }

        func remove(_ handler: AnyObject) {
            self.byObject.withLock { $0.removeValue(forKey: ObjectIdentifier(handler)) }?()
        }
    }
}

/// A swift-metrics handler over a Kite series.
private protocol SeriesBox: AnyObject {
    associatedtype Series: MetricSeries
    var series: Series { get }
}

private final class CounterHandlerBox: SeriesBox, CounterHandler, FloatingPointCounterHandler {
    let series: Counter
    init(_ series: Counter) { self.series = series }
    func increment(by amount: Int64) { self.series.increment(by: Int(truncatingIfNeeded: amount)) }
    func increment(by amount: Double) { self.series.increment(by: amount) }
    func reset() { self.series.reset() }
}

private final class GaugeHandlerBox: SeriesBox, MeterHandler, RecorderHandler {
    let series: Gauge
    init(_ series: Gauge) { self.series = series }
    func set(_ value: Int64) { self.series.set(Double(value)) }
    func set(_ value: Double) { self.series.set(value) }
    func increment(by amount: Double) { self.series.add(amount) }
    func decrement(by amount: Double) { self.series.add(-amount) }
    func record(_ value: Int64) { self.series.set(Double(value)) }
    func record(_ value: Double) { self.series.set(value) }
}

/// A histogram as a recorder (values as given) or a timer (nanoseconds scaled to seconds).
private final class HistogramHandlerBox: SeriesBox, RecorderHandler, TimerHandler {
    let series: Histogram
    let scale: Double
    init(_ series: Histogram, scale: Double) {
        self.series = series
        self.scale = scale
    }
    func record(_ value: Int64) { self.series.observe(Double(value) * self.scale) }
    func record(_ value: Double) { self.series.observe(value * self.scale) }
    func recordNanoseconds(_ duration: Int64) { self.series.observe(Double(duration) * self.scale) }
}
