/// Picks the instance for the next call among those an ``Endpointer`` holds.
///
/// Kite has three: ``RoundRobin``, ``RandomBalancer`` and ``PowerOfTwoChoices``. A balancer is
/// called on every call, from many tasks at once: keep it cheap and lock-free where possible.
public protocol LoadBalancer: Sendable {
    /// The index in `instances` of the instance to call. `instances` is never empty.
    func pick(from instances: [InstanceLoad]) -> Int
}

extension LoadBalancer where Self == RoundRobin {
    /// Each instance in turn.
    public static var roundRobin: RoundRobin { RoundRobin() }
}

extension LoadBalancer where Self == RandomBalancer {
    /// An instance drawn uniformly; with a `seed`, the same draws every run.
    public static func random(seed: UInt64? = nil) -> RandomBalancer { RandomBalancer(seed: seed) }
}

extension LoadBalancer where Self == PowerOfTwoChoices {
    /// The less loaded of two instances drawn at random; with a `seed`, the same draws every run.
    public static func powerOfTwoChoices(seed: UInt64? = nil) -> PowerOfTwoChoices { PowerOfTwoChoices(seed: seed) }
}
