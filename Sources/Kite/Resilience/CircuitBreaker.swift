import KiteTelemetry
import Synchronization

/// A circuit breaker: stops calling what keeps failing, so that a failing dependency fails fast
/// instead of holding every caller for its timeout, and gets room to recover.
///
/// One breaker guards one dependency; share the instance between every endpoint that calls it.
/// Its ``CircuitBreakerPolicy`` decides when it opens and closes. Only failures of the call count
/// against it — by default what ``CallOutcome`` calls a failure, never a business error
/// (validation, not found…) and never a call its caller cancelled; pass `isFailure` to decide
/// otherwise. A refused call throws ``RefusedError`` (`UNAVAILABLE`, HTTP 503) without calling
/// the endpoint.
///
/// Every decision is in the telemetry: `kite_circuit_breaker_state{breaker}` (0 closed,
/// 1 half-open, 2 open), `kite_circuit_breaker_transitions_total{breaker,from,to}`,
/// `kite_circuit_breaker_refusals_total{breaker,reason}`, one log line per transition
/// (`msg="circuit breaker state change"`, `breaker`, `from`, `to`, `cause`) and a
/// `circuit_breaker.state_change` event on the span of the call that caused it.
///
/// ```swift
/// let breaker = try CircuitBreaker("addsvc", policy: .consecutiveFailures(5, coolDown: .seconds(5)),
///                                  telemetry: telemetry)
/// let sum = client.endpoint(...).with(.circuitBreaker(breaker))
/// ```
///
/// While closed under the consecutive-failures policy, a successful call costs two atomic loads
/// and no write; the windowed policies take a short lock per call.
public final class CircuitBreaker: Sendable {
    /// The breaker's name: the `breaker` label.
    public let name: String
    let policy: CircuitBreakerPolicy
    let clock: ResilienceClock
    let isFailure: @Sendable (any Error) -> Bool
    let random: @Sendable () -> Double
    let instruments: CircuitBreakerInstruments

    /// The state and generation in one word, read without the lock: bits 0–1 the state, bit 2 set
    /// while a closed consecutive-failures breaker has a failure streak, the rest the generation.
    private let word: Atomic<UInt64>
    private let machine: Mutex<Machine>
    /// Calls running now (Hystrix's concurrency limit).
    private let running = Atomic<Int>(0)

    private static let stateMask: UInt64 = 0b11
    private static let streakBit: UInt64 = 0b100
    private static let generationShift: UInt64 = 3

    /// Creates a breaker.
    /// - Parameters:
    ///   - name: The `breaker` label and the name in refusals and logs.
    ///   - policy: When it opens and closes.
    ///   - telemetry: Where its metrics, logs and span events go.
    ///   - clock: The time it reads. Default the system's monotonic clock.
    ///   - isFailure: Whether an error counts against the breaker. Default ``countsAsFailure(_:)``.
    ///   - random: A source of numbers in `0..<1` for the adaptive throttle. Default the system's.
    /// - Throws: ``ResilienceConfigurationError`` when the policy's values are out of range.
    public init(
        _ name: String,
        policy: CircuitBreakerPolicy,
        telemetry: Telemetry,
        clock: ResilienceClock = .system,
        isFailure: @escaping @Sendable (any Error) -> Bool = CircuitBreaker.countsAsFailure,
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) throws {
        try policy.validate(ConfigurationCheck(component: "circuit breaker \"\(name)\""))
        self.name = name
        self.policy = policy
        self.clock = clock
        self.isFailure = isFailure
        self.random = random
        self.instruments = CircuitBreakerInstruments(name: name, reasons: policy.refusalReasons, telemetry: telemetry)
        self.word = Atomic(0)
        self.machine = Mutex(Machine(window: RollingWindow(width: policy.window, buckets: policy.buckets)))
    }

    /// The default failure predicate: a failure in ``CallOutcome``'s sense that is not a
    /// cancellation (`CancellationError` or the code `CANCELLED`).
    @Sendable
    public static func countsAsFailure(_ error: any Error) -> Bool {
        CallOutcome(of: error) == .failure && CallOutcome.code(of: error) != .cancelled
    }

    /// The current state.
    public var state: State {
        State(rawValue: Int(self.word.load(ordering: .relaxed) & Self.stateMask)) ?? .closed
    }

    /// The Hystrix policy's time limit per call, if the policy has one.
    @usableFromInline
    var callTimeout: Duration? {
        if case .hystrix(_, _, _, let timeout) = self.policy.model { return timeout }
        return nil
    }

    /// Calls `next` under ``callTimeout`` and records how it ended (the Hystrix policy).
    @usableFromInline
    func callWithTimeout<Request: Sendable, Response: Sendable>(
        _ timeout: Duration,
        _ next: Endpoint<Request, Response>,
        with request: Request
    ) async throws -> Response {
        let permit = try self.acquire()
        do {
            let response = try await withTimeout(timeout, name: self.name, clock: self.clock) {
                try await next(request)
            }
            self.succeeded(permit)
            return response
        } catch {
            self.failed(permit, with: error)
            throw error
        }
    }

    /// What a call the breaker admitted holds until its result is recorded.
    public struct Permit: Sendable {
        let ticket: Ticket
    }

    /// Asks to make a call — gobreaker's two-step use, for code that is not an ``Endpoint``:
    /// record its result with ``succeeded(_:)`` or ``failed(_:with:)``, exactly once. (The
    /// Hystrix policy's timeout applies only through the middleware.)
    /// - Throws: ``RefusedError`` when the breaker refuses the call.
    public func acquire() throws -> Permit {
        Permit(ticket: try self.admit())
    }

    /// Records that the call of `permit` succeeded.
    public func succeeded(_ permit: Permit) {
        self.record(permit.ticket, failed: false)
    }

    /// Records that the call of `permit` threw `error`: a failure if `isFailure` says so; nothing
    /// when the calling task was cancelled (its caller gave up, which says nothing about the
    /// dependency).
    public func failed(_ permit: Permit, with error: any Error) {
        if Task.isCancelled {
            self.release(permit.ticket)
        } else {
            self.record(permit.ticket, failed: self.isFailure(error))
        }
    }

    // MARK: - The state machine

    /// What an admitted call carries to the recording of its result.
    struct Ticket {
        let generation: UInt64
        let trial: Bool
    }

    struct Machine {
        var state: State = .closed
        var generation: UInt64 = 0
        var openUntil: Int64 = 0
        var consecutiveFailures = 0
        var window: RollingWindow<CallCounts>
        var trialsRunning = 0
        var trialSuccesses = 0
    }

    private func admit() throws -> Ticket {
        if case .adaptive(let k) = self.policy.model { return try self.admitAdaptive(k: k) }
        let word = self.word.load(ordering: .acquiring)
        guard word & Self.stateMask == UInt64(State.closed.rawValue) else { return try self.admitSlow() }
        if case .hystrix(_, _, let maxConcurrentCalls, _) = self.policy.model {
            return try self.admitConcurrent(maxConcurrentCalls, generation: word >> Self.generationShift)
        }
        return Ticket(generation: word >> Self.generationShift, trial: false)
    }

    private func admitConcurrent(_ limit: Int, generation: UInt64) throws -> Ticket {
        if self.running.wrappingAdd(1, ordering: .relaxed).newValue > limit {
            self.running.subtract(1, ordering: .relaxed)
            let transition = self.machine.withLock { machine in
                self.update(&machine) { $0.failures += 1 }
            }
            self.instruments.refused(.tooManyConcurrentCalls)
            transition.map(self.instruments.record)
            throw RefusedError(.tooManyConcurrentCalls, by: self.name)
        }
        return Ticket(generation: generation, trial: false)
    }

    /// The adaptive throttle: refuse with probability `max(0, (requests − k·accepts) / (requests + 1))`.
    private func admitAdaptive(k: Double) throws -> Ticket {
        let now = self.clock.now()
        let (refused, transition): (Bool, Transition?) = self.machine.withLock { machine in
            let total = machine.window.total(at: now)
            let requests = Double(total.total)
            let probability = max(0, (requests - k * Double(total.successes)) / (requests + 1))
            let state: State = probability > 0 ? .halfOpen : .closed
            var transition: Transition?
            if state != machine.state {
                let cause =
                    state == .halfOpen
                    ? "the backend accepted \(total.successes) of \(total.total) calls"
                    : "the backend accepts enough calls"
                transition = self.move(&machine, to: state, cause: cause)
            }
            guard probability > 0, self.random() < probability else { return (false, transition) }
            machine.window.update(at: now) { $0.failures += 1 }
            return (true, transition)
        }
        transition.map(self.instruments.record)
        guard refused else { return Ticket(generation: 0, trial: false) }
        self.instruments.refused(.throttled)
        throw RefusedError(.throttled, by: self.name)
    }

    /// Admission when the breaker is not closed (or changing): under the lock.
    private func admitSlow() throws -> Ticket {
        let now = self.clock.now()
        let (result, transition): (Result<Ticket, RefusedError>, Transition?) = self.machine.withLock { machine in
            var transition: Transition?
            if machine.state == .open {
                guard now >= machine.openUntil else {
                    let left = Duration.nanoseconds(machine.openUntil - now)
                    return (.failure(RefusedError(.circuitOpen, by: self.name, retryAfter: left)), nil)
                }
                transition = self.move(&machine, to: .halfOpen, cause: "cool-down of \(self.policy.coolDown.formattedSeconds) over")
            }
            switch machine.state {
            case .closed:
                if case .hystrix(_, _, let limit, _) = self.policy.model {
                    if self.running.wrappingAdd(1, ordering: .relaxed).newValue > limit {
                        self.running.subtract(1, ordering: .relaxed)
                        return (.failure(RefusedError(.tooManyConcurrentCalls, by: self.name)), transition)
                    }
                }
                return (.success(Ticket(generation: machine.generation, trial: false)), transition)
            case .halfOpen:
                guard machine.trialsRunning < self.policy.halfOpenCalls else {
                    return (.failure(RefusedError(.halfOpenFull, by: self.name)), transition)
                }
                machine.trialsRunning += 1
                if case .hystrix = self.policy.model { self.running.add(1, ordering: .relaxed) }
                return (.success(Ticket(generation: machine.generation, trial: true)), transition)
            case .open:
                return (.failure(RefusedError(.circuitOpen, by: self.name)), transition)
            }
        }
        transition.map(self.instruments.record)
        switch result {
        case .success(let ticket):
            return ticket
        case .failure(let refusal):
            self.instruments.refused(refusal.reason)
            throw refusal
        }
    }

    /// Records the result of an admitted call.
    private func record(_ ticket: Ticket, failed: Bool) {
        if case .hystrix = self.policy.model { self.running.subtract(1, ordering: .relaxed) }
        if !failed, !ticket.trial, case .consecutive = self.policy.model {
            // The fast path: a success while closed with no failure streak changes nothing.
            let word = self.word.load(ordering: .relaxed)
            if word & (Self.stateMask | Self.streakBit) == 0 { return }
        }
        let now = self.clock.now()
        let transition: Transition? = self.machine.withLock { machine in
            if case .adaptive = self.policy.model {
                machine.window.update(at: now) { counts in
                    if failed { counts.failures += 1 } else { counts.successes += 1 }
                }
                return nil
            }
            guard machine.generation == ticket.generation else { return nil }
            switch machine.state {
            case .closed:
                return self.update(&machine, at: now) { counts in
                    if failed { counts.failures += 1 } else { counts.successes += 1 }
                }
            case .halfOpen:
                guard ticket.trial else { return nil }
                machine.trialsRunning -= 1
                if failed {
                    return self.open(&machine, at: now, cause: "a trial call failed")
                }
                machine.trialSuccesses += 1
                guard machine.trialSuccesses >= self.policy.successesToClose else { return nil }
                return self.move(&machine, to: .closed, cause: "\(machine.trialSuccesses) trial calls succeeded")
            case .open:
                return nil
            }
        }
        transition.map(self.instruments.record)
    }

    /// Gives back what an admitted call held without recording a result (its caller cancelled it).
    private func release(_ ticket: Ticket) {
        if case .hystrix = self.policy.model { self.running.subtract(1, ordering: .relaxed) }
        guard ticket.trial else { return }
        self.machine.withLock { machine in
            if machine.generation == ticket.generation, machine.state == .halfOpen {
                machine.trialsRunning -= 1
            }
        }
    }

    /// Counts a result in the closed state and opens the breaker when the policy says so.
    private func update(
        _ machine: inout Machine,
        at now: Int64? = nil,
        _ count: (inout CallCounts) -> Void
    ) -> Transition? {
        guard machine.state == .closed else { return nil }
        let now = now ?? self.clock.now()
        switch self.policy.model {
        case .consecutive(let failures):
            var counts = CallCounts()
            count(&counts)
            if counts.failures > 0 {
                machine.consecutiveFailures += 1
                self.word.store(self.wordValue(machine) | Self.streakBit, ordering: .releasing)
                if machine.consecutiveFailures >= failures {
                    return self.open(&machine, at: now, cause: "\(machine.consecutiveFailures) consecutive failures")
                }
            } else if machine.consecutiveFailures > 0 {
                machine.consecutiveFailures = 0
                self.word.store(self.wordValue(machine), ordering: .releasing)
            }
            return nil
        case .ratio(let ratio, let minimumCalls):
            machine.window.update(at: now, count)
            let total = machine.window.total(at: now)
            guard total.total >= minimumCalls, Double(total.failures) >= ratio * Double(total.total) else { return nil }
            return self.open(&machine, at: now, cause: "\(total.failures) of \(total.total) calls failed")
        case .hystrix(let errorPercentage, let requestVolume, _, _):
            machine.window.update(at: now, count)
            let total = machine.window.total(at: now)
            guard total.total >= requestVolume, total.failures * 100 >= errorPercentage * total.total else { return nil }
            return self.open(&machine, at: now, cause: "\(total.failures * 100 / total.total)% of \(total.total) calls failed")
        case .adaptive:
            return nil
        }
    }

    private func open(_ machine: inout Machine, at now: Int64, cause: String) -> Transition {
        machine.openUntil = now &+ self.policy.coolDown.clampedNanoseconds
        return self.move(&machine, to: .open, cause: cause)
    }

    private func move(_ machine: inout Machine, to state: State, cause: String) -> Transition {
        let transition = Transition(from: machine.state, to: state, cause: cause)
        machine.state = state
        machine.generation &+= 1
        machine.consecutiveFailures = 0
        machine.trialsRunning = 0
        machine.trialSuccesses = 0
        if case .adaptive = self.policy.model {} else { machine.window.reset() }
        self.word.store(self.wordValue(machine), ordering: .releasing)
        return transition
    }

    private func wordValue(_ machine: Machine) -> UInt64 {
        UInt64(machine.state.rawValue) | (machine.generation << Self.generationShift)
    }
}

extension Middleware {
    /// Guards the endpoint with `breaker`: see ``CircuitBreaker``.
    @inlinable
    public static func circuitBreaker(_ breaker: CircuitBreaker) -> Middleware {
        // Inlinable, so that the call path is specialised for the endpoint's types.
        Middleware { next in
            if let timeout = breaker.callTimeout {
                return Endpoint { request in try await breaker.callWithTimeout(timeout, next, with: request) }
            }
            return Endpoint { request in
                let permit = try breaker.acquire()
                do {
                    let response = try await next(request)
                    breaker.succeeded(permit)
                    return response
                } catch {
                    breaker.failed(permit, with: error)
                    throw error
                }
            }
        }
    }
}
