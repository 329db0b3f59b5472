/// A load-balanced call found no instance to send to: discovery reports none, has not answered
/// yet, or its endpoints were dropped after a lasting discovery error. A failure with code
/// `UNAVAILABLE`.
public struct NoInstancesError: ServiceError, CustomStringConvertible {
    /// The service that has no instances.
    public let service: String
    /// The discovery backend's outstanding error, if that is why.
    public let discoveryError: (any Error)?

    public var code: ErrorCode { .unavailable }

    public var description: String {
        if let discoveryError { return "no instances of \(self.service) (discovery error: \(discoveryError))" }
        return "no instances of \(self.service)"
    }
}
