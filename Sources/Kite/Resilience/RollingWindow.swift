import KiteTelemetry

/// Counts that a ``RollingWindow`` keeps per bucket and adds up over the window.
protocol WindowCounts {
    init()
    static func += (lhs: inout Self, rhs: Self)
}

/// Counts over the last `width` of time, kept in buckets that expire one by one as the window
/// rolls forward: Hystrix's rolling window, used by the ratio and Hystrix breakers, the adaptive
/// throttle and the load shedder. Not synchronised: its owner keeps it under a lock.
struct RollingWindow<Counts: WindowCounts> {
    private var counts: [Counts]
    /// The bucket number (time / bucket width) each slot last held.
    private var numbers: [Int64]
    let bucketNanoseconds: Int64

    init(width: Duration, buckets: Int) {
        let buckets = max(buckets, 1)
        self.counts = Array(repeating: Counts(), count: buckets)
        self.numbers = Array(repeating: .min, count: buckets)
        self.bucketNanoseconds = max(width.clampedNanoseconds / Int64(buckets), 1)
    }

    /// Updates the bucket of instant `now`.
    mutating func update(at now: Int64, _ body: (inout Counts) -> Void) {
        let number = now / self.bucketNanoseconds
        let slot = Int(number % Int64(self.counts.count))
        if self.numbers[slot] != number {
            self.numbers[slot] = number
            self.counts[slot] = Counts()
        }
        body(&self.counts[slot])
    }

    /// The sum of the buckets still inside the window at `now`.
    func total(at now: Int64) -> Counts {
        var total = Counts()
        self.forEachBucket(at: now, includingCurrent: true) { total += $0 }
        return total
    }

    /// Calls `body` with each bucket still inside the window at `now`; the bucket `now` falls in
    /// (still filling) only when `includingCurrent`.
    func forEachBucket(at now: Int64, includingCurrent: Bool, _ body: (Counts) -> Void) {
        let current = now / self.bucketNanoseconds
        let oldest = current - Int64(self.counts.count) + 1
        for slot in self.counts.indices {
            let number = self.numbers[slot]
            guard number >= oldest, number <= current, includingCurrent || number != current else { continue }
            body(self.counts[slot])
        }
    }

    /// Forgets everything.
    mutating func reset() {
        for slot in self.counts.indices {
            self.counts[slot] = Counts()
            self.numbers[slot] = .min
        }
    }
}

/// Successes and failures of the calls in a bucket.
struct CallCounts: WindowCounts {
    var successes = 0
    var failures = 0

    var total: Int { self.successes + self.failures }

    static func += (lhs: inout CallCounts, rhs: CallCounts) {
        lhs.successes += rhs.successes
        lhs.failures += rhs.failures
    }
}
