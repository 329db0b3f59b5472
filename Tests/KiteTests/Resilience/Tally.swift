import Synchronization

/// A count that concurrent tasks add to.
final class Tally: Sendable {
    private let count = Atomic<Int>(0)
    private let peak = Atomic<Int>(0)

    var value: Int { self.count.load(ordering: .relaxed) }
    /// The highest ``value`` seen by ``enter()``.
    var highWater: Int { self.peak.load(ordering: .relaxed) }

    func add(_ amount: Int = 1) { self.count.add(amount, ordering: .relaxed) }

    /// Adds one and records the high-water mark.
    func enter() {
        let now = self.count.wrappingAdd(1, ordering: .relaxed).newValue
        self.peak.max(now, ordering: .relaxed)
    }

    func leave() { self.count.subtract(1, ordering: .relaxed) }
}
