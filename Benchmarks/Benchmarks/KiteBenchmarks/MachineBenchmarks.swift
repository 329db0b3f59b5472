import Benchmark
import Synchronization

// What kind of machine a run was on. Kite's figures are ratios to an anchor measured in the same
// run, but how those ratios come out depends on the machine: where the shared last-level cache
// does not answer (a load in a 4 MiB working set as slow as one from memory), Kite's request
// path, with its larger footprint, slows more than go-kit's (Benchmarks/README.md, "The session
// on a machine whose shared cache did not answer"). These rows tell such a machine apart: the
// time of one load that depends on the one before it, in a working set that fits the core's own
// caches, one that needs a shared last level, and one that needs memory.
func machineBenchmarks() {
    for (label, bytes) in [("256 KiB", 256 << 10), ("4 MiB", 4 << 20), ("64 MiB", 64 << 20)] {
        Benchmark(
            "Machine: a dependent load in a \(label) working set (pointer chase; tells the machine's caches apart)",
            configuration: .init(metrics: [.wallClock], scalingFactor: .kilo, maxDuration: .seconds(2), maxIterations: 100_000)
        ) { [chase = LazyPointerChase(bytes: bytes)] benchmark in
            let chase = chase.built()  // once, before the first sample is measured
            // From a random slot: the same start would find the slots of the sample before cached.
            var position = Int.random(in: 0..<chase.count)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                position = chase.next(after: position)
            }
            blackHole(position)
        }
    }
}

/// A ``PointerChase`` built when a run first needs it: 64 MiB are not shuffled for a run that
/// filters the row out.
final class LazyPointerChase: Sendable {
    private let bytes: Int
    private let chase = Mutex<PointerChase?>(nil)

    init(bytes: Int) {
        self.bytes = bytes
    }

    func built() -> PointerChase {
        self.chase.withLock { chase in
            if let chase { return chase }
            let built = PointerChase(bytes: self.bytes)
            chase = built
            return built
        }
    }
}

/// A random cycle through every slot of an array of `bytes` bytes: each slot holds the index of
/// the next, so that each load waits for the one before and no prefetcher can guess it.
struct PointerChase: Sendable {
    private let slots: [Int]
    var count: Int { self.slots.count }

    init(bytes: Int) {
        let count = bytes / MemoryLayout<Int>.stride
        // The slots in a random order, each linked to the next: one cycle through all of them.
        let order = Array(0..<count).shuffled()
        var slots = [Int](repeating: 0, count: count)
        for index in 0..<count {
            slots[order[index]] = order[(index + 1) % count]
        }
        self.slots = slots
    }

    /// The slot after `position` in the cycle.
    @inline(__always)
    func next(after position: Int) -> Int {
        self.slots.withUnsafeBufferPointer { $0[position] }
    }
}
