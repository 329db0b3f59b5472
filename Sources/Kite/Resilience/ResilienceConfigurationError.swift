/// A resilience component was configured with a value it cannot work with — a zero or negative
/// limit, a ratio over 1 — and refused at construction rather than at its first call.
public struct ResilienceConfigurationError: Error, Hashable, CustomStringConvertible {
    /// The component's kind and name: `circuit breaker "payments"`.
    public var component: String
    /// What is wrong: `failureRatio must be in (0, 1], got 1.5`.
    public var problem: String

    /// Creates an error.
    public init(component: String, problem: String) {
        self.component = component
        self.problem = problem
    }

    public var description: String { "\(self.component): \(self.problem)" }
}

/// Checks that configuration values lie in range, throwing ``ResilienceConfigurationError``.
struct ConfigurationCheck {
    let component: String

    func positive(_ value: Int, _ name: String) throws {
        guard value > 0 else { throw self.error("\(name) must be at least 1, got \(value)") }
    }

    func nonNegative(_ value: Int, _ name: String) throws {
        guard value >= 0 else { throw self.error("\(name) must not be negative, got \(value)") }
    }

    func positive(_ value: Duration, _ name: String) throws {
        guard value > .zero else { throw self.error("\(name) must be longer than zero, got \(value)") }
    }

    func nonNegative(_ value: Duration, _ name: String) throws {
        guard value >= .zero else { throw self.error("\(name) must not be negative, got \(value)") }
    }

    func positive(_ value: Double, _ name: String) throws {
        guard value > 0, value.isFinite else { throw self.error("\(name) must be a finite number above 0, got \(value)") }
    }

    /// A fraction in (0, 1].
    func ratio(_ value: Double, _ name: String) throws {
        guard value > 0, value <= 1 else { throw self.error("\(name) must be in (0, 1], got \(value)") }
    }

    func that(_ condition: Bool, _ problem: @autoclosure () -> String) throws {
        guard condition else { throw self.error(problem()) }
    }

    func error(_ problem: String) -> ResilienceConfigurationError {
        ResilienceConfigurationError(component: self.component, problem: problem)
    }
}
