#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import KiteTelemetry
import Synchronization

/// What a ``LoadBalancer`` knows of one instance: its address, the calls it has in flight and a
/// moving average of its latency.
///
/// An ``Endpointer`` keeps one per instance for as long as the instance stays, and the
/// load-balanced endpoint updates it around every call.
public final class InstanceLoad: Sendable {
    /// Weight of the newest sample in the average.
    static let smoothing = 0.3
    /// How fast the average fades while no call ends: to 1/e after this many nanoseconds.
    static let fadeNanoseconds = 10e9

    /// The instance's address.
    public let instance: String
    private let inFlightCalls = Atomic<Int>(0)
    /// The moving average in seconds as `Double` bits; 0 until the first call ends.
    private let averageBits = Atomic<UInt64>(0)
    /// When the last call ended, in monotonic nanoseconds.
    private let lastSample = Atomic<Int64>(0)

    /// Creates the load of an instance with no calls yet.
    public init(instance: String) {
        self.instance = instance
    }

    /// Calls to the instance in progress.
    public var inFlight: Int { self.inFlightCalls.load(ordering: .relaxed) }

    /// Whether a call to the instance has ended yet.
    public var isMeasured: Bool { self.averageBits.load(ordering: .relaxed) != 0 }

    /// The exponentially weighted moving average of the instance's call latency, in seconds; 0
    /// before any call ended.
    ///
    /// The newest call weighs 0.3. While no call ends the average fades (to 1/e in 10 s), so an
    /// instance that was slow, and so no longer picked, is tried again after a while.
    public var latency: Double {
        let average = Double(bitPattern: self.averageBits.load(ordering: .relaxed))
        guard average > 0 else { return 0 }
        let idle = MonotonicClock.nanoseconds() - self.lastSample.load(ordering: .relaxed)
        return idle > 0 ? average * exp(-Double(idle) / Self.fadeNanoseconds) : average
    }

    /// Records a call starting.
    public func begin() {
        self.inFlightCalls.add(1, ordering: .relaxed)
    }

    /// Records a call ending after `seconds`.
    public func end(seconds: Double) {
        self.inFlightCalls.subtract(1, ordering: .relaxed)
        let sample = max(seconds, 1e-9)
        let faded = self.latency
        let next = faded == 0 ? sample : faded + Self.smoothing * (sample - faded)
        self.averageBits.store(next.bitPattern, ordering: .relaxed)
        self.lastSample.store(MonotonicClock.nanoseconds(), ordering: .relaxed)
    }
}
