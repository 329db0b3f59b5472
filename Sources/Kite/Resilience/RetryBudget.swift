import Synchronization

/// How much extra load retries may add: each call deposits `ratio` of a token, each retry takes
/// a whole one, and the balance never exceeds `maxTokens` — so over any stretch of time, retries
/// number at most `ratio` × calls + `maxTokens` (Finagle's retry budget; gRPC's retry throttling
/// has the same aim). When a dependency fails every call, retries stop at that fraction instead
/// of multiplying the load on it.
///
/// Share one budget between the endpoints that call the same dependency.
public final class RetryBudget: Sendable {
    /// The fraction of calls that may be retried.
    public let ratio: Double
    /// The most tokens the budget holds (and starts with): the retries allowed on top of the
    /// ratio, which lets a service with little traffic retry at all.
    public let maxTokens: Int

    /// Tokens in thousandths.
    private let milliTokens: Atomic<Int>
    private let deposit: Int
    private let cap: Int

    /// Creates a budget.
    /// - Parameters:
    ///   - ratio: Retries allowed per call, in (0, 1]. Default 0.2: at most 20 % extra load.
    ///   - maxTokens: Tokens held at most and at the start. Default 10.
    /// - Throws: ``ResilienceConfigurationError`` when a value is out of range.
    public init(ratio: Double = 0.2, maxTokens: Int = 10) throws {
        let check = ConfigurationCheck(component: "retry budget")
        try check.ratio(ratio, "ratio")
        try check.nonNegative(maxTokens, "maxTokens")
        self.ratio = ratio
        self.maxTokens = maxTokens
        self.deposit = Int((ratio * 1000).rounded())
        self.cap = max(maxTokens * 1000, 1000)
        self.milliTokens = Atomic(maxTokens * 1000)
    }

    /// The tokens in the budget now.
    public var tokens: Double { Double(self.milliTokens.load(ordering: .relaxed)) / 1000 }

    /// Credits one call.
    func recordCall() {
        var current = self.milliTokens.load(ordering: .relaxed)
        while current < self.cap {
            let (exchanged, original) = self.milliTokens.weakCompareExchange(
                expected: current,
                desired: min(current + self.deposit, self.cap),
                ordering: .relaxed
            )
            if exchanged { return }
            current = original
        }
    }

    /// Takes a token for a retry; `false` when the budget is spent.
    func withdraw() -> Bool {
        var current = self.milliTokens.load(ordering: .relaxed)
        while current >= 1000 {
            let (exchanged, original) = self.milliTokens.weakCompareExchange(
                expected: current,
                desired: current - 1000,
                ordering: .relaxed
            )
            if exchanged { return true }
            current = original
        }
        return false
    }
}
