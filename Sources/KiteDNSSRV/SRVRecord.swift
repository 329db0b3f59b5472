/// One SRV record: where an instance of a service listens, and how much it should be preferred
/// (RFC 2782).
public struct SRVRecord: Sendable, Hashable {
    /// Lower is preferred: a client uses a higher priority only when no lower one answers.
    public var priority: UInt16
    /// Among records of one priority, the share of traffic (higher gets more).
    public var weight: UInt16
    /// The port the instance listens on.
    public var port: UInt16
    /// The instance's host name, without the final dot.
    public var target: String
    /// Seconds the record may be cached.
    public var ttl: UInt32

    /// The instance as `host:port`.
    public var instance: String { "\(self.target):\(self.port)" }

    /// Preferred first: lower priority, then higher weight (then name and port, so that the order
    /// of equal records is stable).
    static func preferred(_ a: SRVRecord, _ b: SRVRecord) -> Bool {
        (a.priority, UInt16.max - a.weight, a.target, a.port) < (b.priority, UInt16.max - b.weight, b.target, b.port)
    }
}
