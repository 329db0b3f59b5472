import Synchronization

/// A value that goes up and down: one series of a gauge family.
///
/// ``set(_:)`` is a single relaxed atomic store; ``add(_:)`` is a compare-and-exchange loop.
public final class Gauge: MetricSeries {
    @usableFromInline let bits: Atomic<UInt64>

    public let labels: SeriesLabels

    public init(labels: SeriesLabels, configuration: Void) {
        self.labels = labels
        self.bits = Atomic(Double(0).bitPattern)
    }

    /// Replaces the value.
    @inlinable
    public func set(_ value: Double) {
        self.bits.store(value.bitPattern, ordering: .relaxed)
    }

    /// Adds `amount` (negative to subtract).
    @inlinable
    public func add(_ amount: Double) {
        AtomicDouble.add(amount, to: self.bits)
    }

    /// Adds one.
    @inlinable
    public func increment() { self.add(1) }

    /// Subtracts one.
    @inlinable
    public func decrement() { self.add(-1) }

    /// The current value.
    public var value: Double {
        Double(bitPattern: self.bits.load(ordering: .relaxed))
    }

    public var sampleValue: MetricSample.Value { .gauge(self.value) }

    public static let kind = MetricKind.gauge

    public func write(to writer: inout ExpositionWriter, family: FamilyNames) {
        if self.labels.samplePrefix.isEmpty {
            writer.sample(name: family.sampleName, labels: self.labels.rendered)
        } else {
            writer.append(self.labels.samplePrefix)
        }
        writer.appendDouble(self.value)
        writer.newline()
    }
}
