import Synchronization

/// Lock-free arithmetic on a `Double` stored as its bit pattern in an `Atomic<UInt64>`.
@usableFromInline
enum AtomicDouble {
    /// Adds `amount` with a compare-and-exchange loop.
    @inlinable
    static func add(_ amount: Double, to bits: borrowing Atomic<UInt64>) {
        var expected = bits.load(ordering: .relaxed)
        while true {
            let desired = (Double(bitPattern: expected) + amount).bitPattern
            let (exchanged, original) = bits.weakCompareExchange(
                expected: expected,
                desired: desired,
                ordering: .relaxed
            )
            if exchanged { return }
            expected = original
        }
    }
}
