/// Every attempt of a load-balanced call failed: the error of each, in order, with the instance
/// it was sent to.
///
/// It takes its code, kind and `retryAfter` from the last attempt's error, so transports answer
/// and telemetry counts it as they would that error.
public struct BalancerRetryError: ServiceError, CustomStringConvertible {
    /// One failed attempt.
    public struct Attempt: Sendable {
        /// The instance the attempt was sent to; empty when there was none to send to.
        public let instance: String
        /// What it failed with.
        public let error: any Error
    }

    /// The attempts, first to last (at least one).
    public let attempts: [Attempt]

    /// The last attempt's error.
    public var lastError: any Error {
        self.attempts[self.attempts.count - 1].error
    }

    public var code: ErrorCode { CallOutcome.code(of: self.lastError) }

    public var isBusinessError: Bool { CallOutcome(of: self.lastError) == .businessError }

    public var httpStatus: Int { (self.lastError as? any ServiceError)?.httpStatus ?? self.code.httpStatus }

    public var retryAfter: Duration? { (self.lastError as? any ServiceError)?.retryAfter }

    public var description: String {
        let list = self.attempts.enumerated().map { index, attempt in
            let target = attempt.instance.isEmpty ? "" : " (\(attempt.instance))"
            return "attempt \(index + 1)\(target): \(attempt.error)"
        }
        return "\(self.attempts.count) attempts failed: " + list.joined(separator: "; ")
    }
}
