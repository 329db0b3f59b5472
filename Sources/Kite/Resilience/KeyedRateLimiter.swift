import KiteTelemetry
import Synchronization

/// A token bucket per key — per client, per tenant, per API key — with bounded memory: it keeps
/// at most `maxKeys` buckets, evicting the least recently used (a key seen again after its
/// eviction starts with a full bucket), and counts the evictions.
///
/// The key comes from the request or the context, through the closure given to
/// ``Middleware/rateLimited(_:key:)``:
///
/// ```swift
/// let perTenant = try KeyedRateLimiter("tenant", rate: 10, burst: 10, maxKeys: 10_000, telemetry: telemetry)
/// let sum = addEndpoint.with(.rateLimited(perTenant, key: { request in request.tenant }))
/// ```
///
/// Besides the ``LimiterInstruments`` metrics (`kind="keyed_token_bucket"`), it reports
/// `kite_limiter_keys{limiter}` (keys held) and `kite_limiter_key_evictions_total{limiter}`.
/// Buckets live under one lock.
public final class KeyedRateLimiter: Sendable {
    /// The limiter's name: the `limiter` label.
    public let name: String
    /// Calls per second per key.
    public let rate: Double
    /// Calls admitted at once from a key's full bucket.
    public let burst: Int
    /// Keys held at most.
    public let maxKeys: Int
    /// What happens to a call that finds no token.
    public let mode: RateLimiter.Mode
    let bucket: TokenBucket
    let clock: ResilienceClock
    let instruments: LimiterInstruments
    private let buckets: Mutex<LRUBuckets>
    private let evictions: Counter
    private let maxWait: Int64

    /// Creates a keyed limiter.
    /// - Parameters:
    ///   - name: The `limiter` label and the name in refusals.
    ///   - rate: Calls per second per key, above zero.
    ///   - burst: Calls admitted at once from a key's full bucket. Default one second's worth.
    ///   - maxKeys: Buckets kept at most; the least recently used is evicted beyond. Default 10,000.
    ///   - mode: Refuse at once (default) or wait for a token.
    ///   - telemetry: Where its metrics go.
    ///   - clock: The time it reads.
    /// - Throws: ``ResilienceConfigurationError`` when a value is out of range.
    public init(
        _ name: String,
        rate: Double,
        burst: Int? = nil,
        maxKeys: Int = 10_000,
        mode: RateLimiter.Mode = .erroring,
        telemetry: Telemetry,
        clock: ResilienceClock = .system
    ) throws {
        let check = ConfigurationCheck(component: "keyed rate limiter \"\(name)\"")
        let settings = try TokenBucket.make(rate: rate, burst: burst, mode: mode, check: check)
        try check.positive(maxKeys, "maxKeys")
        self.name = name
        self.rate = rate
        self.burst = settings.burst
        self.maxKeys = maxKeys
        self.mode = mode
        self.bucket = settings.bucket
        self.clock = clock
        self.maxWait = settings.maxWait
        self.buckets = Mutex(LRUBuckets(capacity: maxKeys))
        let reasons: [RefusedError.Reason] = mode == .erroring ? [.rateLimited] : [.rateLimited, .queueTimeout]
        self.instruments = LimiterInstruments(
            name: name,
            kind: "keyed_token_bucket",
            reasons: reasons,
            telemetry: telemetry
        )
        self.instruments.setLimit(rate)
        self.evictions = telemetry.registry.counter(
            "kite_limiter_key_evictions_total",
            help: "Keys a keyed limiter forgot to stay within its memory bound.",
            labelNames: ["limiter"]
        ).labels(name)
        let keys = telemetry.registry.gauge(
            "kite_limiter_keys",
            help: "Keys a keyed limiter holds a bucket for.",
            labelNames: ["limiter"]
        ).labels(name)
        telemetry.registry.addCollectHook { [weak self] in
            guard let self else { return }
            keys.set(Double(self.keyCount))
        }
    }

    /// The number of keys holding a bucket.
    public var keyCount: Int { self.buckets.withLock { $0.count } }

    /// Takes a token from `key`'s bucket, waiting for it in delaying mode.
    /// - Throws: ``RefusedError`` when the call gets no token.
    public func acquire(key: String) async throws {
        let now = self.clock.now()
        let maxWait = ResilienceClock.allowedWait(self.maxWait)
        let (decision, evicted) = self.buckets.withLock { buckets in
            buckets.update(key, now: now) { tat in
                let decision = self.bucket.decide(tat: tat, now: now, maxWait: maxWait)
                if case .admit(let newTAT, _) = decision { tat = newTAT }
                return decision
            }
        }
        if evicted { self.evictions.increment() }
        try await self.instruments.settle(decision, now: now, clock: self.clock)
    }
}

/// Token-bucket instants by key, least recently used first out, within a fixed capacity: a
/// dictionary into a doubly linked list kept in arrays (no allocation per call once full).
struct LRUBuckets {
    private struct Node {
        var key: String
        var tat: Int64
        var newer: Int
        var older: Int
    }

    private var index: [String: Int] = [:]
    private var nodes: [Node] = []
    /// The most and least recently used nodes, or -1.
    private var newest = -1
    private var oldest = -1
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    var count: Int { self.index.count }

    /// Runs `body` on `key`'s TAT (a new key's bucket is full: TAT `now`), making it the most
    /// recently used; returns `body`'s result and whether another key was evicted for it.
    mutating func update<Result>(_ key: String, now: Int64, _ body: (inout Int64) -> Result) -> (Result, Bool) {
        if let slot = self.index[key] {
            self.moveToFront(slot)
            return (body(&self.nodes[slot].tat), false)
        }
        var evicted = false
        let slot: Int
        if self.nodes.count < self.capacity {
            slot = self.nodes.count
            self.nodes.append(Node(key: key, tat: now, newer: -1, older: -1))
        } else {
            slot = self.oldest
            self.unlink(slot)
            self.index[self.nodes[slot].key] = nil
            self.nodes[slot].key = key
            self.nodes[slot].tat = now
            evicted = true
        }
        self.index[key] = slot
        self.linkAtFront(slot)
        return (body(&self.nodes[slot].tat), evicted)
    }

    private mutating func moveToFront(_ slot: Int) {
        guard slot != self.newest else { return }
        self.unlink(slot)
        self.linkAtFront(slot)
    }

    private mutating func unlink(_ slot: Int) {
        let node = self.nodes[slot]
        if node.newer >= 0 { self.nodes[node.newer].older = node.older } else { self.newest = node.older }
        if node.older >= 0 { self.nodes[node.older].newer = node.newer } else { self.oldest = node.newer }
        self.nodes[slot].newer = -1
        self.nodes[slot].older = -1
    }

    private mutating func linkAtFront(_ slot: Int) {
        self.nodes[slot].older = self.newest
        self.nodes[slot].newer = -1
        if self.newest >= 0 { self.nodes[self.newest].newer = slot }
        self.newest = slot
        if self.oldest < 0 { self.oldest = slot }
    }
}

extension Middleware {
    /// Limits the endpoint's calls per key with `limiter`; `key` names the caller, from the
    /// request or from `ServiceContext.current`. See ``KeyedRateLimiter``.
    public static func rateLimited(
        _ limiter: KeyedRateLimiter,
        key: @escaping @Sendable (Request) -> String
    ) -> Middleware {
        Middleware { next in
            Endpoint { request in
                try await limiter.acquire(key: key(request))
                return try await next(request)
            }
        }
    }
}
