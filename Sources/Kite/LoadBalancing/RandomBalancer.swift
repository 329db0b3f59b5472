/// A ``LoadBalancer`` that picks an instance uniformly at random.
public final class RandomBalancer: LoadBalancer {
    private let random: SeededRandom

    /// Creates a balancer; with a `seed`, its picks are the same on every run.
    public init(seed: UInt64? = nil) {
        self.random = SeededRandom(seed: seed)
    }

    public func pick(from instances: [InstanceLoad]) -> Int {
        instances.count == 1 ? 0 : self.random.next(below: instances.count)
    }
}
