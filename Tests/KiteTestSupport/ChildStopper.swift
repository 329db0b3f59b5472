import Foundation

/// Stops child processes on threads of their own.
///
/// A peer or example is stopped from a `deinit`, which runs on whichever thread dropped the last
/// reference — in a test, one of Swift's cooperative threads, of which a small machine has two.
/// `Process.waitUntilExit` polls and a Prometheus shutting down takes seconds, so stopping there
/// would starve every other test running at the time (a test timing a SIGTERM saw 7.5 s for a
/// 0.1 s exit). Here the signal is sent at once and the wait happens on a detached thread; the
/// test process waits for those threads when it exits, so no child outlives it.
public enum ChildStopper {
    private static let pending = DispatchGroup()
    private static let registerExitWait: Void = {
        atexit {
            // Bounded: a child that ignores SIGKILL (it cannot) must not hang the test run.
            _ = ChildStopper.pending.wait(timeout: .now() + 30)
        }
    }()

    /// Sends `signal` to `process` now; if it is still running after `grace`, kills it. Then
    /// runs `cleanup` (removing a temporary folder, say) — all off the calling thread.
    public static func stop(
        _ process: Process,
        signal: Int32 = SIGTERM,
        grace: Duration = .seconds(10),
        cleanup: @escaping @Sendable () -> Void = {}
    ) {
        _ = Self.registerExitWait
        guard process.isRunning else {
            cleanup()
            return
        }
        kill(process.processIdentifier, signal)
        let box = ProcessBox(process)
        Self.pending.enter()
        Thread.detachNewThread {
            let deadline = ContinuousClock.now + grace
            while box.process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
            if box.process.isRunning { kill(box.process.processIdentifier, SIGKILL) }
            box.process.waitUntilExit()
            cleanup()
            Self.pending.leave()
        }
    }
}

/// A `Process` handed to the thread that stops it; nothing else uses it from then on.
private final class ProcessBox: @unchecked Sendable {
    let process: Process
    init(_ process: Process) { self.process = process }
}
