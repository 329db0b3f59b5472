import ArgumentParser

/// A duration on the command line: a number and a unit — `200ms`, `1.5s`, `250us`, `2m` — or `0`.
struct DurationArgument: ExpressibleByArgument, Sendable {
    let duration: Duration

    init(_ duration: Duration) {
        self.duration = duration
    }

    init?(argument: String) {
        let units: [(suffix: String, nanoseconds: Double)] = [
            ("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9),
        ]
        if argument == "0" {
            self.duration = .zero
            return
        }
        // Longest suffix first, so that "ms" is not read as "m" after "…s".
        for unit in units.sorted(by: { $0.suffix.count > $1.suffix.count }) where argument.hasSuffix(unit.suffix) {
            guard let value = Double(argument.dropLast(unit.suffix.count)), value >= 0, value.isFinite else { return nil }
            self.duration = .nanoseconds(Int64((value * unit.nanoseconds).rounded()))
            return
        }
        return nil
    }

    var defaultValueDescription: String { self.duration == .zero ? "0" : "\(self.duration)" }
}
