import KiteTelemetry
import Synchronization

/// Adaptive load shedding for a server (go-zero's shedder, Kratos' BBR): while the CPU is busy
/// and more requests are in flight than the service has shown it can carry — its best
/// throughput times its best latency, measured over a rolling window — new requests are refused
/// at once with ``RefusedError`` (`overloaded`, `UNAVAILABLE`: HTTP 503), so the requests it does
/// take keep their latency instead of everyone queueing. After shedding it stays alert for a
/// cool-off, shedding on the in-flight test alone.
///
/// ```swift
/// let shedder = try LoadShedder("addsvc", telemetry: telemetry)
/// let sum = sumEndpoint.with(.loadShedding(shedder))   // share one shedder across the service
/// ```
///
/// Admitting a request while the CPU is not busy is two atomic loads and one atomic addition
/// (which counts it too); a finished request adds itself and its latency to the current bucket
/// of the window with one more (a bucket's first writer resets it, and a sample racing that
/// reset can be lost: the window is a statistic, not a ledger). The CPU is sampled at most every
/// `cpuSampleInterval`, by the first request to finish (or, while shedding, to arrive) after it. Metrics are the
/// ``LimiterInstruments`` ones with `kind="load_shedder"` — the limit gauge reads the current
/// in-flight bound — and `kite_load_shedder_cpu_utilization{limiter}`.
public final class LoadShedder: Sendable {
    /// The shedder's name: the `limiter` label.
    public let name: String
    /// CPU use (0–1) at or above which the shedder considers the service busy.
    public let cpuThreshold: Double
    /// How long the shedder stays alert after refusing a request.
    public let coolOff: Duration
    /// What every request touches, in an object of its own: the metric callbacks hold the
    /// shedder weakly, and an object that has weak references counts its strong ones through a
    /// side table, a slower path that each ``Admission``'s reference would pay (~15 ns a request).
    @usableFromInline let core: Core

    /// Creates a shedder.
    /// - Parameters:
    ///   - name: The `limiter` label and the name in refusals.
    ///   - cpuThreshold: CPU use that counts as busy, in (0, 1]. Default 0.9.
    ///   - window: The window throughput and latency are measured over. Default 5 s.
    ///   - buckets: Buckets of the window. Default 50.
    ///   - coolOff: How long it stays alert after refusing. Default 1 s.
    ///   - cpuSampleInterval: How often the CPU is read. Default 250 ms.
    ///   - telemetry: Where its metrics go.
    ///   - clock: The time it reads.
    ///   - cpu: Where CPU use comes from. Default ``CPUUsage/system``.
    /// - Throws: ``ResilienceConfigurationError`` when a value is out of range.
    public init(
        _ name: String,
        cpuThreshold: Double = 0.9,
        window: Duration = .seconds(5),
        buckets: Int = 50,
        coolOff: Duration = .seconds(1),
        cpuSampleInterval: Duration = .milliseconds(250),
        telemetry: Telemetry,
        clock: ResilienceClock = .system,
        cpu: CPUUsage = .system
    ) throws {
        let check = ConfigurationCheck(component: "load shedder \"\(name)\"")
        try check.ratio(cpuThreshold, "cpuThreshold")
        try check.positive(window, "window")
        try check.that(buckets >= 2, "buckets must be at least 2, got \(buckets)")
        try check.that(window.clampedNanoseconds / Int64(buckets) > 0, "window \(window) is too short for \(buckets) buckets")
        try check.nonNegative(coolOff, "coolOff")
        try check.positive(cpuSampleInterval, "cpuSampleInterval")
        self.name = name
        self.cpuThreshold = cpuThreshold
        self.coolOff = coolOff
        let instruments = LimiterInstruments(
            name: name,
            kind: "load_shedder",
            reasons: [.overloaded],
            telemetry: telemetry
        )
        self.core = Core(
            name: name,
            cpuThreshold: cpuThreshold,
            coolOff: coolOff.clampedNanoseconds,
            cpuSampleInterval: cpuSampleInterval.clampedNanoseconds,
            window: PassWindow(width: window, buckets: buckets),
            clock: clock,
            cpu: cpu,
            instruments: instruments
        )
        let utilization = telemetry.registry.gauge(
            "kite_load_shedder_cpu_utilization",
            help: "CPU use a load shedder sees, smoothed, from 0 to 1.",
            labelNames: ["limiter"]
        ).labels(name)
        instruments.publishAdmitted { [weak self] in self?.core.admitted }
        instruments.publish(
            inFlight: { [weak self] in self?.inFlight },
            limit: { [weak self] in
                guard let core = self?.core else { return nil }
                utilization.set(core.cpuUtilization)
                return core.maxInFlight(at: core.clock.now()).map(Double.init) ?? 0
            }
        )
    }

    /// Requests in flight now.
    public var inFlight: Int { self.core.inFlight }

    /// The smoothed CPU use the shedder decides on.
    public var cpuUtilization: Double { self.core.cpuUtilization }

    /// A request the shedder admitted: call ``finish()`` once when it is done, whatever its outcome.
    public struct Admission: Sendable {
        let core: Core
        let start: Int64

        /// Records the request's latency and releases its place.
        public func finish() {
            self.core.finish(start: self.start)
        }
    }

    /// Admits a request or refuses it — for code that is not an ``Endpoint``.
    /// - Throws: ``RefusedError`` (`overloaded`) while the service sheds load.
    public func admit() throws -> Admission {
        Admission(core: self.core, start: try self.core.admit())
    }
}

extension LoadShedder {
    /// The shedder's state and decisions.
    @usableFromInline
    final class Core: Sendable {
        let name: String
        let cpuThreshold: Double
        let coolOff: Int64
        let cpuSampleInterval: Int64
        let window: PassWindow
        let clock: ResilienceClock
        let cpu: CPUUsage
        let instruments: LimiterInstruments
        /// Requests in flight in the low 32 bits; requests admitted, modulo 2³², in the high 32
        /// bits — one atomic addition admits a request and counts it.
        private let running = Atomic<UInt64>(0)
        private static let admittedUnit: UInt64 = 1 << 32
        /// The smoothed CPU use, as the bits of a `Double`.
        private let cpuBits = Atomic<UInt64>(0)
        private let nextCPUSample = Atomic<Int64>(0)
        /// Until when the shedder stays alert after a refusal; 0 when it is not.
        private let alertUntil = Atomic<Int64>(0)

        init(
            name: String,
            cpuThreshold: Double,
            coolOff: Int64,
            cpuSampleInterval: Int64,
            window: PassWindow,
            clock: ResilienceClock,
            cpu: CPUUsage,
            instruments: LimiterInstruments
        ) {
            self.name = name
            self.cpuThreshold = cpuThreshold
            self.coolOff = coolOff
            self.cpuSampleInterval = cpuSampleInterval
            self.window = window
            self.clock = clock
            self.cpu = cpu
            self.instruments = instruments
        }

        var inFlight: Int { Int(UInt32(truncatingIfNeeded: self.running.load(ordering: .relaxed))) }

        /// Requests admitted, modulo 2³².
        var admitted: UInt32 { UInt32(truncatingIfNeeded: self.running.load(ordering: .relaxed) >> 32) }

        var cpuUtilization: Double { Double(bitPattern: self.cpuBits.load(ordering: .relaxed)) }

        /// Admits a request and returns when it started, or refuses it.
        /// - Throws: ``RefusedError`` (`overloaded`).
        @usableFromInline
        func admit() throws -> Int64 {
            let inFlight = Int(UInt32(truncatingIfNeeded: self.running.wrappingAdd(Self.admittedUnit | 1, ordering: .relaxed).newValue))
            if self.cpuUtilization >= self.cpuThreshold || self.isAlert() {
                let now = self.clock.now()
                // While shedding, few requests may finish: read the CPU here too, to see it calm down.
                self.sampleCPUIfDue(at: now)
                if let limit = self.maxInFlight(at: now), inFlight > limit {
                    self.running.wrappingSubtract(Self.admittedUnit | 1, ordering: .relaxed)
                    self.alertUntil.store(now &+ self.coolOff, ordering: .relaxed)
                    self.instruments.refused(.overloaded)
                    throw RefusedError(.overloaded, by: self.name)
                }
                return now
            }
            return self.clock.now()
        }

        /// Whether a refusal happened less than `coolOff` ago.
        private func isAlert() -> Bool {
            let until = self.alertUntil.load(ordering: .relaxed)
            guard until != 0 else { return false }
            if self.clock.now() < until { return true }
            // A refusal that set a later time meanwhile keeps it: only the expired one is cleared.
            _ = self.alertUntil.compareExchange(expected: until, desired: 0, ordering: .relaxed)
            return false
        }

        /// Records the latency of a request admitted at `start` and releases its place.
        @usableFromInline
        func finish(start: Int64) {
            self.running.wrappingSubtract(1, ordering: .relaxed)
            let now = self.clock.now()
            self.window.record(at: now, latency: now - start)
            self.sampleCPUIfDue(at: now)
        }

        private func sampleCPUIfDue(at now: Int64) {
            let due = self.nextCPUSample.load(ordering: .relaxed)
            if now >= due,
                self.nextCPUSample.compareExchange(expected: due, desired: now &+ self.cpuSampleInterval, ordering: .relaxed)
                    .exchanged,
                let usage = self.cpu.read()
            {
                // An exponential moving average, so one busy sample does not start shedding.
                let smoothed = self.cpuUtilization * 0.8 + usage * 0.2
                self.cpuBits.store(smoothed.bitPattern, ordering: .relaxed)
            }
        }

        /// The in-flight requests the service has shown it can carry: the most requests
        /// finished in one bucket, per second, times the least average latency of a bucket;
        /// `nil` before one bucket of the window is complete.
        func maxInFlight(at now: Int64) -> Int? {
            guard let (maxPassed, minLatency) = self.window.best(at: now) else { return nil }
            let perSecond = Double(maxPassed) * 1e9 / Double(self.window.bucketNanoseconds)
            return max(Int((perSecond * minLatency / 1e9).rounded(.up)), 1)
        }
    }
}

/// Requests finished and their total latency per bucket of a rolling window: one atomic word per
/// bucket holds both — the count in the low 24 bits, the latency in units of 100 ns above — so
/// recording a request is one atomic addition.
final class PassWindow: Sendable {
    final class Bucket: Sendable {
        let number = Atomic<Int64>(.min)
        let packed = Atomic<UInt64>(0)
    }

    /// The ring of buckets: a power of two at least as long as the window, so that a bucket
    /// number finds its slot with a mask instead of a division.
    let buckets: [Bucket]
    private let slotMask: Int64
    /// Buckets in the window.
    let count: Int64
    let bucketNanoseconds: Int64
    /// 1 / `bucketNanoseconds`: a multiplication finds the bucket number of an instant.
    private let bucketsPerNanosecond: Double
    private static let countBits: UInt64 = 24
    private static let countMask: UInt64 = (1 << 24) - 1
    private static let latencyUnit: Int64 = 100

    init(width: Duration, buckets: Int) {
        var ring = 1
        while ring < buckets { ring <<= 1 }
        self.buckets = (0..<ring).map { _ in Bucket() }
        self.slotMask = Int64(ring - 1)
        self.count = Int64(buckets)
        self.bucketNanoseconds = max(width.clampedNanoseconds / Int64(buckets), 1)
        self.bucketsPerNanosecond = 1 / Double(self.bucketNanoseconds)
    }

    /// The bucket `now` falls in (to within a nanosecond at a bucket's edge).
    private func number(at now: Int64) -> Int64 {
        Int64(Double(now) * self.bucketsPerNanosecond)
    }

    func record(at now: Int64, latency: Int64) {
        let number = self.number(at: now)
        let bucket = self.buckets[Int(number & self.slotMask)]
        let seen = bucket.number.load(ordering: .relaxed)
        if seen != number, bucket.number.compareExchange(expected: seen, desired: number, ordering: .relaxed).exchanged {
            bucket.packed.store(0, ordering: .relaxed)
        }
        let units = UInt64(max(latency, 0) / Self.latencyUnit)
        bucket.packed.wrappingAdd(units << Self.countBits | 1, ordering: .relaxed)
    }

    /// Over the complete buckets still in the window: the most requests one bucket finished, and
    /// the least average latency (nanoseconds) of a bucket.
    func best(at now: Int64) -> (maxPassed: Int64, minLatency: Double)? {
        let current = self.number(at: now)
        let oldest = current - self.count + 1
        var maxPassed: Int64 = 0
        var minLatency = Double.infinity
        for bucket in self.buckets {
            let number = bucket.number.load(ordering: .relaxed)
            guard number >= oldest, number < current else { continue }
            let packed = bucket.packed.load(ordering: .relaxed)
            let passed = Int64(packed & Self.countMask)
            guard passed > 0 else { continue }
            maxPassed = max(maxPassed, passed)
            let latency = Double(packed >> Self.countBits) * Double(Self.latencyUnit)
            minLatency = min(minLatency, latency / Double(passed))
        }
        guard maxPassed > 0 else { return nil }
        return (maxPassed, minLatency)
    }
}

extension Middleware {
    /// Sheds the endpoint's requests with `shedder` under overload: see ``LoadShedder``.
    @inlinable
    public static func loadShedding(_ shedder: LoadShedder) -> Middleware {
        Middleware { next in
            Endpoint { request in
                let start = try shedder.core.admit()
                defer { shedder.core.finish(start: start) }
                return try await next(request)
            }
        }
    }
}
