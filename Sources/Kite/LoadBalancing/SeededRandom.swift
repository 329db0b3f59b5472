import Synchronization

/// A random number generator that a seed makes repeatable (SplitMix64), shared by concurrent
/// callers behind a lock. Without a seed it starts from the system's generator.
final class SeededRandom: Sendable {
    private struct SplitMix64: RandomNumberGenerator {
        var state: UInt64

        mutating func next() -> UInt64 {
            self.state &+= 0x9E37_79B9_7F4A_7C15
            var z = self.state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    private let generator: Mutex<SplitMix64>

    init(seed: UInt64?) {
        var system = SystemRandomNumberGenerator()
        self.generator = Mutex(SplitMix64(state: seed ?? system.next()))
    }

    /// A number in `0..<upperBound`, uniformly.
    func next(below upperBound: Int) -> Int {
        self.generator.withLock { Int.random(in: 0..<upperBound, using: &$0) }
    }

    /// Two different numbers in `0..<upperBound` (which is at least 2), uniformly.
    func nextPair(below upperBound: Int) -> (Int, Int) {
        self.generator.withLock { generator in
            let first = Int.random(in: 0..<upperBound, using: &generator)
            let second = Int.random(in: 0..<(upperBound - 1), using: &generator)
            return (first, second >= first ? second + 1 : second)
        }
    }
}
