import Synchronization
import W3CTraceContext

/// Makes trace and span IDs without a system call per ID.
///
/// A 64-bit state seeded once from the system's random source advances by a fixed odd increment
/// with one atomic add per draw, and each draw is scrambled with SplitMix64's finaliser. The IDs
/// are unique and uniformly spread (as the `traceidratio` sampler needs) but not secret: they are
/// sent in clear in every request header anyway.
public final class IDGenerator: Sendable {
    private let state: Atomic<UInt64>

    /// Creates a generator seeded from the system's random source.
    public init() {
        var random = SystemRandomNumberGenerator()
        self.state = Atomic(random.next())
    }

    /// The next 64 random bits.
    @inlinable
    public func next() -> UInt64 {
        var value = self.advance()
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }

    @usableFromInline
    func advance() -> UInt64 {
        self.state.wrappingAdd(0x9E37_79B9_7F4A_7C15, ordering: .relaxed).newValue
    }

    /// A new, non-zero trace ID.
    public func traceID() -> TraceID {
        var high = self.next()
        let low = self.next()
        if high == 0 && low == 0 { high = 1 }
        return TraceID(bytes: Self.bytes16(high, low))
    }

    /// A new, non-zero span ID.
    public func spanID() -> SpanID {
        var value = self.next()
        if value == 0 { value = 1 }
        return SpanID(bytes: Self.bytes8(value))
    }

    static func bytes8(_ value: UInt64) -> SpanID.Bytes {
        let v = value.bigEndian
        return withUnsafeBytes(of: v) { ($0[0], $0[1], $0[2], $0[3], $0[4], $0[5], $0[6], $0[7]) }
    }

    static func bytes16(_ high: UInt64, _ low: UInt64) -> TraceID.Bytes {
        let h = bytes8(high)
        let l = bytes8(low)
        return (h.0, h.1, h.2, h.3, h.4, h.5, h.6, h.7, l.0, l.1, l.2, l.3, l.4, l.5, l.6, l.7)
    }
}
