import Synchronization

/// A ``LoadBalancer`` that calls each instance in turn.
///
/// The turn is one atomic counter shared by all callers, so over any `n` consecutive picks from
/// an unchanged set of `n` instances each instance is picked exactly once.
public final class RoundRobin: LoadBalancer {
    private let counter = Atomic<UInt64>(0)

    /// Creates a balancer that starts at the first instance.
    public init() {}

    public func pick(from instances: [InstanceLoad]) -> Int {
        let turn = self.counter.wrappingAdd(1, ordering: .relaxed).oldValue
        return Int(turn % UInt64(instances.count))
    }
}
