/// `Task.sleep` for timers that are usually cancelled — a call's timeout, an export's timeout —
/// slept in slices of at most ``slice``.
///
/// The concurrency runtime keeps a cancelled `Task.sleep`'s task and timer until the deadline it
/// was given has passed (swiftlang/swift#60441; on Linux the timer is a `dispatch_after`, which
/// cannot be cancelled). A 30 s export timeout cancelled when its export ends 2 ms later holds
/// a kilobyte or two for 30 s more, and so does every call of a timeout middleware: at a few
/// hundred exports or a few thousand calls a second, megabytes held for nothing (measured: the
/// instrumented stringsvc grew by 5 MiB over its first 30 s of load, and by 50 MiB with a batch
/// size of 64). Slept in slices, a cancelled sleep holds its memory for one slice at most, at
/// the cost of one wake-up per slice while it runs to its end.
package enum SlicedSleep {
    /// The longest one slice sleeps.
    package static let slice: Duration = .milliseconds(100)

    /// Sleeps until `deadline` on the continuous clock.
    /// - Throws: `CancellationError` when the task is cancelled, before or while it sleeps.
    package static func sleep(until deadline: ContinuousClock.Instant) async throws {
        let clock = ContinuousClock()
        while true {
            try Task.checkCancellation()
            let now = clock.now
            guard now < deadline else { return }
            try await Task.sleep(until: min(deadline, now.advanced(by: Self.slice)), clock: clock)
        }
    }

    /// Sleeps for `duration` on the continuous clock.
    /// - Throws: `CancellationError` when the task is cancelled, before or while it sleeps.
    package static func sleep(for duration: Duration) async throws {
        try await self.sleep(until: ContinuousClock.now.advanced(by: duration))
    }
}
