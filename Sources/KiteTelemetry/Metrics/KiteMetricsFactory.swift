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
        let family: MetricFamily<Counter> = self.registry.family(name: name, help: "", labelNames: nil, configuration: ())
        return self.removals.track(family, family.labels(pairs: dimensions))
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        let name = MetricName.ensuring(suffix: "_total", on: MetricName.sanitized(label))
        let family: MetricFamily<Counter> = self.registry.family(name: name, help: "", labelNames: nil, configuration: ())
        return self.removals.track(family, family.labels(pairs: dimensions))
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        self.gauge(label: label, dimensions: dimensions)
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return self.gauge(label: label, dimensions: dimensions) }
        let name = MetricName.sanitized(label)
        let family: MetricFamily<Histogram> = self.registry.family(
            name: name,
            help: "",
            labelNames: nil,
            configuration: self.registry.buckets(forMetricNamed: name)
        )
        return self.removals.track(family, family.labels(pairs: dimensions))
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        let name = MetricName.ensuring(suffix: "_seconds", on: MetricName.sanitized(label))
        let family: MetricFamily<Histogram> = self.registry.family(
            name: name,
            help: "",
            labelNames: nil,
            configuration: self.registry.buckets(forMetricNamed: name)
        )
        return TimerSeries(self.removals.track(family, family.labels(pairs: dimensions)))
    }

    private func gauge(label: String, dimensions: [(String, String)]) -> Gauge {
        let family: MetricFamily<Gauge> = self.registry.family(
            name: MetricName.sanitized(label),
            help: "",
            labelNames: nil,
            configuration: ()
        )
        return self.removals.track(family, family.labels(pairs: dimensions))
    }

    public func destroyCounter(_ handler: any CounterHandler) { self.removals.remove(handler) }
    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) { self.removals.remove(handler) }
    public func destroyMeter(_ handler: any MeterHandler) { self.removals.remove(handler) }
    public func destroyRecorder(_ handler: any RecorderHandler) { self.removals.remove(handler) }
    public func destroyTimer(_ handler: any TimerHandler) {
        self.removals.remove((handler as? TimerSeries)?.histogram ?? handler)
    }

    /// How to take each handed-out series out of its family again.
    private final class Removals: Sendable {
        private let byObject = Mutex<[ObjectIdentifier: @Sendable () -> Void]>([:])

        func track<Series: MetricSeries>(_ family: MetricFamily<Series>, _ series: Series) -> Series {
            self.byObject.withLock {
                $0[ObjectIdentifier(series)] = { [weak family, weak series] in
                    if let family, let series { family.remove(series) }
                }
            }
            return series
        }

        func remove(_ handler: AnyObject) {
            self.byObject.withLock { $0.removeValue(forKey: ObjectIdentifier(handler)) }?()
        }
    }
}

/// A histogram seen as a swift-metrics timer: nanoseconds in, seconds recorded.
private final class TimerSeries: TimerHandler {
    let histogram: Histogram

    init(_ histogram: Histogram) { self.histogram = histogram }

    func recordNanoseconds(_ duration: Int64) {
        self.histogram.observe(Double(duration) / 1e9)
    }
}

extension Counter: CounterHandler, FloatingPointCounterHandler {
    public func increment(by amount: Int64) {
        self.increment(by: Int(truncatingIfNeeded: amount))
    }
}

extension Gauge: MeterHandler, RecorderHandler {
    public func set(_ value: Int64) { self.set(Double(value)) }
    public func increment(by amount: Double) { self.add(amount) }
    public func decrement(by amount: Double) { self.add(-amount) }
    public func record(_ value: Int64) { self.set(Double(value)) }
    public func record(_ value: Double) { self.set(value) }
}

extension Histogram: RecorderHandler {
    public func record(_ value: Int64) { self.observe(Double(value)) }
    public func record(_ value: Double) { self.observe(value) }
}
