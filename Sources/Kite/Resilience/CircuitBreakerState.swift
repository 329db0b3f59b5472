extension CircuitBreaker {
    /// A breaker's state; the raw value is what `kite_circuit_breaker_state` reports.
    public enum State: Int, Sendable, Hashable, CustomStringConvertible {
        /// Calls go through.
        case closed = 0
        /// Trial calls go through; the rest are refused (an adaptive throttle: some calls are refused).
        case halfOpen = 1
        /// Calls are refused.
        case open = 2

        /// `closed`, `half_open` or `open`: the value of the `from` and `to` labels.
        public var label: String {
            switch self {
            case .closed: "closed"
            case .halfOpen: "half_open"
            case .open: "open"
            }
        }

        public var description: String { self.label }
    }

    /// A change of state, as the breaker reports it.
    struct Transition {
        let from: State
        let to: State
        /// Why, for the log line: `5 consecutive failures`.
        let cause: String
    }
}
