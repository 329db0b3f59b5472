/// A source of a service's instances: a discovery backend (etcd, ZooKeeper, DNS SRV, Consul) or a
/// fixed list (``StaticInstancer``).
///
/// Every subscriber gets the current state at once (when one is known), then every change. On a
/// backend error the last known set stays in force and the error arrives as an event (go-kit's
/// rule). Backends that watch a server are also `Service`s: run them in the `ServiceGroup`.
///
/// ```swift
/// for await event in instancer.events() {
///     print(event.instances)
/// }
/// ```
public protocol Instancer: Sendable {
    /// The service's name, as the discovery metrics and log lines label it.
    var service: String { get }

    /// The events from now on: the current state first (as soon as one is known), then each
    /// change. The sequence ends when the instancer stops.
    func events() -> InstancerEvents
}
