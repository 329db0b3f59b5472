#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The monotonic clock in nanoseconds, and the wall clock read through it.
///
/// Instrumentation that times a call on the monotonic clock (the endpoint decorator) also needs
/// the wall-clock time its span starts at. Reading both clocks costs a second clock read per
/// call; ``wallNanoseconds(at:)`` instead adds to the monotonic reading the offset between the
/// two clocks, taken again whenever it is more than ``anchorLifetimeNanoseconds`` old. On Linux
/// `CLOCK_MONOTONIC` runs at the rate NTP sets for the wall clock, so the offset changes only
/// when the wall clock is set (a step), which shows within 10 ms; Darwin's raw uptime clock is
/// not slewed, and over 10 ms drifts from the wall clock by NTP's 500 ppm at most: 5 µs.
package enum MonotonicClock {
    /// How long an offset between the clocks is used before it is measured again.
    package static let anchorLifetimeNanoseconds: Int64 = 10_000_000

    /// Wall minus monotonic time, as last measured.
    private static let offset = Atomic<Int64>(0)
    /// The monotonic time after which ``offset`` is measured again (from the start: at once).
    private static let anchorExpiry = Atomic<Int64>(.min)

    /// Now, in nanoseconds of `CLOCK_MONOTONIC` (`CLOCK_UPTIME_RAW` on Darwin).
    @inline(__always)
    package static func nanoseconds() -> Int64 {
        #if canImport(Darwin)
        Int64(clamping: clock_gettime_nsec_np(CLOCK_UPTIME_RAW))
        #else
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) &* 1_000_000_000 &+ Int64(spec.tv_nsec)
        #endif
    }

    /// The wall-clock time, in nanoseconds since the Unix epoch, of the monotonic reading
    /// `monotonic` (a recent one: the offset of now is applied).
    package static func wallNanoseconds(at monotonic: Int64) -> UInt64 {
        if monotonic >= self.anchorExpiry.load(ordering: .acquiring) { self.anchor() }
        return UInt64(clamping: monotonic &+ self.offset.load(ordering: .relaxed))
    }

    /// Measures the offset between the clocks: the wall clock read between two monotonic
    /// readings, against their midpoint. Threads that anchor at once each store an offset as
    /// good as the other's.
    private static func anchor() {
        let before = self.nanoseconds()
        let wall = Int64(clamping: UTCTimestamp.nowNanoseconds())
        let after = self.nanoseconds()
        let monotonic = before &+ (after &- before) / 2
        self.offset.store(wall &- monotonic, ordering: .relaxed)
        self.anchorExpiry.store(after &+ self.anchorLifetimeNanoseconds, ordering: .releasing)
    }
}
