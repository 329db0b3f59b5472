/// Registers this instance of a service with a discovery backend and keeps it registered — go-kit's
/// `sd.Registrar`, with the keeping-alive made explicit.
///
/// A backend implements the three steps; ``RegistrationService`` runs them for the service's
/// lifetime (register once the servers listen, register again whenever the backend lost the
/// registration, deregister first on graceful shutdown). A registration is always bound to a lease,
/// a session or a health check, so that an instance that crashes disappears by itself.
public protocol Registrar: Sendable {
    /// The service's name the instance is registered under.
    var service: String { get }
    /// The instance's address as registered.
    var instance: String { get }
    /// The backend's name for log lines (`etcd`, `zookeeper`, `consul`).
    var backend: String { get }

    /// Registers the instance. Registering again replaces the registration.
    func register() async throws

    /// Keeps the registration alive — renews its lease, heartbeats its check — until the task is
    /// cancelled. Returns or throws when the registration was lost (an expired lease or session, an
    /// unreachable backend); the caller then registers again.
    func keepAlive() async throws

    /// Removes the registration.
    func deregister() async throws
}
