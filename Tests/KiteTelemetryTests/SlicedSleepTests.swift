import Testing

@testable import KiteTelemetry

/// `SlicedSleep` sleeps as `Task.sleep` does — its whole duration, across slices, and no more
/// once cancelled — in slices whose cancelled timers the runtime keeps for one slice at most.
@Suite("Sliced sleep")
struct SlicedSleepTests {
    @Test("a sleep longer than a slice lasts its whole duration")
    func wholeDuration() async throws {
        let duration = SlicedSleep.slice * 2 + .milliseconds(50)
        let start = ContinuousClock.now
        try await SlicedSleep.sleep(for: duration)
        #expect(ContinuousClock.now - start >= duration)
    }

    @Test("a deadline already passed returns at once, without sleeping")
    func pastDeadline() async throws {
        // A hundred of them: had each slept even one slice, this would take ten seconds.
        let start = ContinuousClock.now
        for _ in 0..<50 {
            try await SlicedSleep.sleep(until: ContinuousClock.now.advanced(by: .seconds(-1)))
            try await SlicedSleep.sleep(for: .zero)
        }
        #expect(ContinuousClock.now - start < SlicedSleep.slice * 50)
    }

    @Test("cancelled, it throws CancellationError long before its deadline")
    func cancelled() async throws {
        let started = AsyncStream<Void>.makeStream()
        let sleeper = Task {
            started.continuation.yield()
            let start = ContinuousClock.now
            let error = await #expect(throws: CancellationError.self) {
                try await SlicedSleep.sleep(for: .seconds(60))
            }
            return (error != nil, ContinuousClock.now - start)
        }
        var iterator = started.stream.makeAsyncIterator()
        await iterator.next()
        sleeper.cancel()
        let (threw, slept) = await sleeper.value
        #expect(threw)
        #expect(slept < .seconds(30))
    }

    @Test("a task cancelled before it sleeps throws at once")
    func cancelledBefore() async {
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            await #expect(throws: CancellationError.self) { try await SlicedSleep.sleep(for: .seconds(60)) }
        }
        await task.value
    }
}
