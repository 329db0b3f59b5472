import Synchronization

/// How many spans Kite's tracer has sampled and not yet ended, process-wide.
///
/// A histogram observation asks for the current span only while this is non-zero: outside any
/// traced work an observation costs one relaxed load more, not a task-local lookup. Histograms
/// keep the counter's address (``count``), so that reading it needs no lazy-global check.
enum ActiveSampledSpans {
    // nonisolated(unsafe): the pointers never change, and what they point to is only ever
    // accessed atomically.

    /// The counter, allocated once and never freed.
    nonisolated(unsafe) static let count: UnsafeMutablePointer<Atomic<Int>> = {
        let counter = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 1)
        counter.initialize(to: Atomic(0))
        return counter
    }()

    /// A gate that is always open (``ExemplarFilter/alwaysOn``).
    nonisolated(unsafe) static let always: UnsafeMutablePointer<Atomic<Int>> = {
        let gate = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 1)
        gate.initialize(to: Atomic(1))
        return gate
    }()

    static func started() { Self.count.pointee.wrappingAdd(1, ordering: .relaxed) }
    static func ended() { Self.count.pointee.wrappingSubtract(1, ordering: .relaxed) }
}
