#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A span's lock: one atomic word inside the span (no allocation of its own), for critical
/// sections of a few instructions — setting an attribute, adding an event, ending.
///
/// A span is almost always used by one task at a time, so the lock is almost never contended;
/// when it is, the waiter yields its thread to the holder instead of spinning.
struct SpanLock: ~Copyable, Sendable {
    private let word = Atomic<Bool>(false)

    init() {}

    @inline(__always)
    func lock() {
        while !self.word.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
            self.waitForRelease()
        }
    }

    @inline(__always)
    func unlock() {
        self.word.store(false, ordering: .releasing)
    }

    @inline(never)
    private func waitForRelease() {
        while self.word.load(ordering: .relaxed) {
            sched_yield()
        }
    }
}
