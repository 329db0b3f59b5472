import KiteTelemetry
import Tracing

/// The time the resilience middleware reads and sleeps on: the system's monotonic clock, or a
/// ``ManualClock`` that a test advances by hand.
///
/// Every state machine in `Resilience/` (breakers, limiters, retry, timeout) takes one, so that
/// its transitions can be tested without sleeping.
public struct ResilienceClock: Sendable {
    enum Source: Sendable {
        case system
        case manual(ManualClock)
    }

    let source: Source

    /// The system's monotonic clock.
    public static let system = ResilienceClock(source: .system)

    /// A clock that reads and sleeps on `clock`.
    public static func manual(_ clock: ManualClock) -> ResilienceClock {
        ResilienceClock(source: .manual(clock))
    }

    /// Monotonic nanoseconds since an arbitrary origin.
    @inline(__always)
    func now() -> Int64 {
        switch self.source {
        case .system: MonotonicClock.nanoseconds()
        case .manual(let clock): clock.nanoseconds
        }
    }

    /// Sleeps until `deadline` (in ``now()``'s nanoseconds), or throws `CancellationError`.
    func sleep(until deadline: Int64) async throws {
        switch self.source {
        case .system:
            // Sliced: a timeout's or a bulkhead's wait is usually cancelled (see `SlicedSleep`).
            let left = deadline - MonotonicClock.nanoseconds()
            if left > 0 { try await SlicedSleep.sleep(for: .nanoseconds(left)) }
            try Task.checkCancellation()
        case .manual(let clock):
            try await clock.sleep(until: deadline)
        }
    }

    /// Nanoseconds left before the task's ``ServiceContext/deadline``, measured on the system
    /// clock, or `nil` when the call has no deadline.
    static func nanosecondsToContextDeadline() -> Int64? {
        guard let deadline = ServiceContext.current?.deadline else { return nil }
        return ContinuousClock.now.duration(to: deadline).clampedNanoseconds
    }

    /// The longest the current call may wait, in nanoseconds: `maxWait`, cut to the time left
    /// before its ``ServiceContext/deadline``; 0 when it may not wait.
    static func allowedWait(_ maxWait: Int64) -> Int64 {
        guard maxWait > 0 else { return 0 }
        guard let untilDeadline = Self.nanosecondsToContextDeadline() else { return maxWait }
        return max(min(maxWait, untilDeadline), 0)
    }
}
