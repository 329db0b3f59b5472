import Instrumentation
import Synchronization
import W3CTraceContext

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The last exemplar of each bucket of one histogram series: OpenTelemetry's aligned histogram
/// bucket reservoir, taking at most one new exemplar per bucket per tick of the kernel's coarse
/// clock (1 to 4 ms): the first observation of a tick is kept, the others of that tick only read.
///
/// Each bucket has a slot of its own, one cache line of atomics guarded by a sequence number: a
/// writer claims the slot by moving the number from even to odd (an observer that finds it odd
/// leaves the slot to the one writing — a lost exemplar, never a torn one), writes the fields and
/// makes the number even again; a reader retries while the number is odd or changed under it.
/// Nothing is allocated after the series is created.
@usableFromInline
final class ExemplarReservoir: @unchecked Sendable {
    // @unchecked: `words` points to `slots * wordsPerSlot` atomics that live as long as `self`
    // and are only ever accessed atomically.

    /// Sequence, trace ID (high, low), span ID, value bits, time, whether there is a trace; padded
    /// to 64 bytes so that buckets written by different threads share no cache line.
    private static let wordsPerSlot = 8
    private static let hasTraceFlag: UInt64 = 1

    private let words: UnsafeMutablePointer<Atomic<UInt64>>
    private let slots: Int
    /// Whether observations outside a sampled span leave an exemplar (``ExemplarFilter/alwaysOn``).
    @usableFromInline let recordsWithoutSpan: Bool

    /// Storage for `slots` buckets, for `filter` (which must not be ``ExemplarFilter/alwaysOff``).
    init(slots: Int, filter: ExemplarFilter) {
        self.slots = slots
        self.recordsWithoutSpan = filter == .alwaysOn
        let count = slots * Self.wordsPerSlot
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: count * MemoryLayout<Atomic<UInt64>>.stride,
            alignment: 64
        )
        self.words = raw.bindMemory(to: Atomic<UInt64>.self, capacity: count)
        for index in 0..<count {
            (self.words + index).initialize(to: Atomic(0))
        }
    }

    deinit {
        self.words.deinitialize(count: self.slots * Self.wordsPerSlot)
        UnsafeMutableRawPointer(self.words).deallocate()
    }

    /// Keeps `value` as bucket `bucket`'s exemplar when the filter lets it: with the current span's
    /// trace and span IDs when the observation is made inside a sampled span.
    @usableFromInline
    func offer(_ value: Double, bucket: Int) {
        self.offer(value, bucket: bucket, span: ServiceContext.current?[SpanContextKey.self])
    }

    /// Keeps `value` as bucket `bucket`'s exemplar, naming `span` when it is sampled.
    func offer(_ value: Double, bucket: Int, span core: SpanCore?) {
        var traceHigh: UInt64 = 0
        var traceLow: UInt64 = 0
        var spanID: UInt64 = 0
        var flags: UInt64 = 0
        if let core, core.isSampled {
            (traceHigh, traceLow) = withUnsafeBytes(of: core.spanContext.traceID.bytes) {
                (UInt64(bigEndian: $0.loadUnaligned(as: UInt64.self)), UInt64(bigEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
            }
            spanID = withUnsafeBytes(of: core.spanContext.spanID.bytes) { UInt64(bigEndian: $0.loadUnaligned(as: UInt64.self)) }
            flags = Self.hasTraceFlag
        } else if !self.recordsWithoutSpan {
            return
        }
        let slot = self.words + bucket * Self.wordsPerSlot
        // One new exemplar per bucket per clock tick: a bucket observed thousands of times a
        // second is read, not rewritten, by most observations (and by all but one of the threads
        // observing it at once).
        let now = Self.nowNanoseconds()
        guard slot[5].load(ordering: .relaxed) != now else { return }
        let sequence = slot[0].load(ordering: .relaxed)
        guard sequence & 1 == 0,
            slot[0].compareExchange(expected: sequence, desired: sequence &+ 1, ordering: .acquiring).exchanged
        else { return }
        // A reader that sees any field below sees the odd sequence number too (fence to fence).
        atomicMemoryFence(ordering: .releasing)
        slot[1].store(traceHigh, ordering: .relaxed)
        slot[2].store(traceLow, ordering: .relaxed)
        slot[3].store(spanID, ordering: .relaxed)
        slot[4].store(value.bitPattern, ordering: .relaxed)
        slot[5].store(now, ordering: .relaxed)
        slot[6].store(flags, ordering: .relaxed)
        slot[0].store(sequence &+ 2, ordering: .releasing)
    }

    /// Bucket `bucket`'s exemplar, if one was kept.
    func exemplar(bucket: Int) -> Exemplar? {
        let slot = self.words + bucket * Self.wordsPerSlot
        // A writer holds a slot for a few stores: a reader that keeps meeting one gives up on
        // this bucket for this read rather than spin.
        for _ in 0..<64 {
            let before = slot[0].load(ordering: .acquiring)
            guard before != 0 else { return nil }
            guard before & 1 == 0 else { continue }
            let traceHigh = slot[1].load(ordering: .relaxed)
            let traceLow = slot[2].load(ordering: .relaxed)
            let spanID = slot[3].load(ordering: .relaxed)
            let value = Double(bitPattern: slot[4].load(ordering: .relaxed))
            let time = slot[5].load(ordering: .relaxed)
            let flags = slot[6].load(ordering: .relaxed)
            atomicMemoryFence(ordering: .acquiring)
            guard slot[0].load(ordering: .relaxed) == before else { continue }
            let traced = flags & Self.hasTraceFlag != 0
            return Exemplar(
                traceID: traced ? TraceID(bytes: IDGenerator.bytes16(traceHigh, traceLow)) : nil,
                spanID: traced ? SpanID(bytes: IDGenerator.bytes8(spanID)) : nil,
                value: value,
                timeUnixNano: time
            )
        }
        return nil
    }

    /// Every bucket's exemplar, `nil` where none was kept.
    var all: [Exemplar?] { (0..<self.slots).map { self.exemplar(bucket: $0) } }

    /// The wall-clock time to the resolution of the kernel's tick (a few milliseconds), which the
    /// kernel gives without reading the clock hardware: an exemplar's time needs no more.
    private static func nowNanoseconds() -> UInt64 {
        var time = timespec()
        #if os(Linux)
        clock_gettime(CLOCK_REALTIME_COARSE, &time)
        #else
        clock_gettime(CLOCK_REALTIME, &time)
        #endif
        return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
    }
}
