import Tracing

/// The instant by which the current call must be answered, carried in the `ServiceContext`.
///
/// Server transports set it from the caller's deadline (gRPC's `grpc-timeout`); client transports
/// read it and send the time left with the outgoing call, so a deadline crosses every hop and no
/// service works on a request its caller has given up on. A timeout middleware sets it too.
enum CallDeadlineKey: ServiceContextKey {
    typealias Value = ContinuousClock.Instant
    static var nameOverride: String? { "kite-deadline" }
}

extension ServiceContext {
    /// The instant by which the call in this context must be answered, if the caller set one.
    public var deadline: ContinuousClock.Instant? {
        get { self[CallDeadlineKey.self] }
        set { self[CallDeadlineKey.self] = newValue }
    }
}

/// Deadlines as client transports apply them.
public enum CallDeadline {
    /// The time a call may take: what is left before the context's deadline, or `fallback`,
    /// whichever is shorter; `nil` when neither is set.
    public static func timeout(
        in context: ServiceContext?,
        fallback: Duration?,
        now: ContinuousClock.Instant = .now
    ) -> Duration? {
        guard let deadline = context?.deadline else { return fallback }
        let left = now.duration(to: deadline)
        guard let fallback else { return left }
        return min(left, fallback)
    }
}
