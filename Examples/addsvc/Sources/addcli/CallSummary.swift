import AddService
import Foundation
import Kite
import Synchronization

/// What `addcli --repeat` prints: how the calls ended and how long they took.
struct CallSummary {
    var calls = 0
    var success = 0
    var businessError = 0
    var failure = 0
    /// Calls refused locally (breaker, limiter) that never reached the server.
    var refused = 0
    var durations: [Duration] = []
    /// The wall-clock time all the calls took.
    var elapsed = Duration.zero

    /// `{"calls":N,"success":N,"business_error":N,"failure":N,"refused":N,"p50_ms":x,"p99_ms":x,"per_second":x}`.
    var json: String {
        let sorted = self.durations.sorted()
        func percentile(_ p: Double) -> String {
            guard !sorted.isEmpty else { return "0" }
            let index = min(Int((Double(sorted.count) * p).rounded(.up)) - 1, sorted.count - 1)
            let (seconds, attoseconds) = sorted[max(index, 0)].components
            let milliseconds = Double(seconds) * 1000 + Double(attoseconds) / 1e15
            return String(format: "%.3f", milliseconds)
        }
        return #"{"calls":\#(self.calls),"success":\#(self.success),"business_error":\#(self.businessError),"#
            + #""failure":\#(self.failure),"refused":\#(self.refused),"p50_ms":\#(percentile(0.5)),"p99_ms":\#(percentile(0.99)),"#
            + #""per_second":\#(String(format: "%.0f", self.perSecond))}"#
    }

    /// Calls per second of wall-clock time.
    var perSecond: Double {
        let (seconds, attoseconds) = self.elapsed.components
        let total = Double(seconds) + Double(attoseconds) / 1e18
        return total > 0 ? Double(self.calls) / total : 0
    }

    /// Makes `calls` calls of `call`, `concurrency` at a time, and sums them up. With a `rate`, call
    /// `i` starts no earlier than `i / rate` seconds after the first (a paced load, not a flood).
    static func measure(
        calls: Int,
        concurrency: Int,
        rate: Double? = nil,
        _ call: @escaping @Sendable () async throws -> String
    ) async -> CallSummary {
        let workers = min(concurrency, calls)
        let start = ContinuousClock.now
        var summary = await withTaskGroup(of: CallSummary.self) { group in
            for worker in 0..<workers {
                // Worker w makes calls w, w + workers, w + 2·workers…
                let share = calls / workers + (worker < calls % workers ? 1 : 0)
                group.addTask {
                    var summary = CallSummary()
                    for turn in 0..<share {
                        if let rate {
                            let index = Double(worker + turn * workers)
                            try? await Task.sleep(until: start + .seconds(index / rate), clock: .continuous)
                        }
                        let reach = CallReach()
                        let start = ContinuousClock.now
                        do {
                            _ = try await CallReach.$current.withValue(reach) { try await call() }
                            summary.success += 1
                        } catch is RefusedError where !reach.reached {
                            summary.refused += 1
                        } catch {
                            if CallOutcome(of: error) == .businessError { summary.businessError += 1 } else { summary.failure += 1 }
                        }
                        summary.durations.append(start.duration(to: .now))
                        summary.calls += 1
                    }
                    return summary
                }
            }
            var total = CallSummary()
            for await part in group {
                total.calls += part.calls
                total.success += part.success
                total.businessError += part.businessError
                total.failure += part.failure
                total.refused += part.refused
                total.durations += part.durations
            }
            return total
        }
        summary.elapsed = start.duration(to: .now)
        return summary
    }
}

/// Whether a call reached the transport: set by the innermost middleware (``reachCounted()``).
final class CallReach: Sendable {
    @TaskLocal static var current: CallReach?
    private let flag = Atomic<Bool>(false)

    var reached: Bool { self.flag.load(ordering: .relaxed) }

    func markReached() { self.flag.store(true, ordering: .relaxed) }
}

extension AddEndpoints {
    /// The endpoints, marking in ``CallReach/current`` each call that reaches the transport.
    func reachCounted() -> AddEndpoints {
        AddEndpoints(sum: self.sum.with(.markingReach()), concat: self.concat.with(.markingReach()))
    }
}

extension Middleware {
    static func markingReach() -> Middleware {
        .intercept { request, next in
            CallReach.current?.markReached()
            return try await next(request)
        }
    }
}
