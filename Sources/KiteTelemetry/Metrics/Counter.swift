import Synchronization

/// A monotonically increasing value: one series of a counter family.
///
/// Obtain a `Counter` once from ``MetricFamily/labels(_:)`` and keep it: incrementing a resolved
/// counter by an integer is a single relaxed atomic add — no lock, no allocation, no lookup.
public final class Counter: MetricSeries {
    /// The integral part of the value, the one that ``increment(by:)-(Int)`` touches.
    @usableFromInline let integral: Atomic<UInt64>
    /// The bit pattern of the fractional part added by ``increment(by:)-(Double)``.
    @usableFromInline let fractionalBits: Atomic<UInt64>

    public let labels: SeriesLabels

    public init(labels: SeriesLabels, configuration: Void) {
        self.labels = labels
        self.integral = Atomic(0)
        self.fractionalBits = Atomic(0)
    }

    /// Adds one.
    @inlinable
    public func increment() {
        self.integral.wrappingAdd(1, ordering: .relaxed)
    }

    /// Adds a non-negative integer. Negative amounts are ignored: a counter never goes down.
    @inlinable
    public func increment(by amount: Int) {
        guard amount > 0 else { return }
        self.integral.wrappingAdd(UInt64(amount), ordering: .relaxed)
    }

    /// Adds a non-negative amount. Negative, infinite and NaN amounts are ignored.
    @inlinable
    public func increment(by amount: Double) {
        guard amount > 0, amount.isFinite else { return }
        AtomicDouble.add(amount, to: self.fractionalBits)
    }

    /// The current value.
    public var value: Double {
        Double(self.integral.load(ordering: .relaxed))
            + Double(bitPattern: self.fractionalBits.load(ordering: .relaxed))
    }

    /// Sets the counter back to zero (swift-metrics' `reset()`).
    public func reset() {
        self.integral.store(0, ordering: .relaxed)
        self.fractionalBits.store(0, ordering: .relaxed)
    }

    /// Sets the value outright: for counters that mirror a total kept elsewhere (CPU time, drops).
    func set(_ value: Double) {
        let whole = value.rounded(.down)
        self.integral.store(UInt64(max(whole, 0)), ordering: .relaxed)
        self.fractionalBits.store((value - whole).bitPattern, ordering: .relaxed)
    }

    public var sampleValue: MetricSample.Value { .counter(self.value) }

    public static let kind = MetricKind.counter

    public func write(to writer: inout ExpositionWriter, family: FamilyNames) {
        let fraction = Double(bitPattern: self.fractionalBits.load(ordering: .relaxed))
        let whole = self.integral.load(ordering: .relaxed)
        if self.labels.samplePrefix.isEmpty {
            writer.sample(name: family.sampleName, labels: self.labels.rendered)
        } else {
            writer.append(self.labels.samplePrefix)
        }
        if fraction == 0 {
            writer.appendInteger(whole)
        } else {
            writer.appendDouble(Double(whole) + fraction)
        }
        writer.newline()
    }
}
