/// What an ``Instancer`` reports: the set of instances in force, and the backend's error if the
/// last attempt to learn it failed.
///
/// As in go-kit, an error does not empty the set: ``instances`` then holds the last set the
/// backend gave, and it is the consumer's choice (see ``Endpointer``) how long to trust it.
public struct InstancerEvent: Sendable, CustomStringConvertible {
    /// The instances in force (addresses such as `127.0.0.1:8080` or `http://10.0.0.5:8081`),
    /// without duplicates: in the backend's order of preference where it has one (DNS SRV), else
    /// sorted.
    public var instances: [String]
    /// The backend's error, when the last look at it failed; `nil` when ``instances`` is fresh.
    public var error: (any Error)?

    /// Creates an event.
    public init(instances: [String], error: (any Error)? = nil) {
        self.instances = instances
        self.error = error
    }

    public var description: String {
        if let error { return "\(self.instances) (kept after: \(error))" }
        return "\(self.instances)"
    }
}
