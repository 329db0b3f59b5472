/// A ``LoadBalancer`` that draws two different instances at random and calls the one with the
/// lower expected cost: its latency average times one more than its calls in flight (the
/// "peak EWMA" of Finagle and Linkerd, beyond go-kit's balancers).
///
/// An instance that slows down or piles up calls gets less traffic at once, without the herd that
/// always picking the least loaded instance causes. An instance not yet measured is tried first,
/// one call at a time until that call ends; the latency average fades while an instance is not
/// picked, so a slow instance gets tried again after a while.
public final class PowerOfTwoChoices: LoadBalancer {
    private let random: SeededRandom

    /// Creates a balancer; with a `seed`, its draws are the same on every run.
    public init(seed: UInt64? = nil) {
        self.random = SeededRandom(seed: seed)
    }

    public func pick(from instances: [InstanceLoad]) -> Int {
        guard instances.count > 1 else { return 0 }
        let (first, second) = self.random.nextPair(below: instances.count)
        let firstCost = Self.cost(of: instances[first])
        let secondCost = Self.cost(of: instances[second])
        if firstCost != secondCost { return firstCost < secondCost ? first : second }
        return instances[first].inFlight <= instances[second].inFlight ? first : second
    }

    /// Latency average times one more than the calls in flight; an unmeasured instance costs
    /// nothing while it is idle and is avoided while its first call runs.
    static func cost(of load: InstanceLoad) -> Double {
        guard load.isMeasured else { return load.inFlight == 0 ? 0 : .infinity }
        return load.latency * Double(load.inFlight + 1)
    }
}
