import KiteTelemetry
import Logging
import ServiceLifecycle
import Synchronization

/// Turns the instances an ``Instancer`` reports into client endpoints, one per instance, made by a
/// factory and kept while the instance stays — go-kit's `sd.Endpointer`.
///
/// Run it in the `ServiceGroup` (it follows the instancer until graceful shutdown, then closes
/// every endpoint); list it before the server that calls through it, so that the server drains
/// first. ``balanced(by:retry:)`` makes the one endpoint that spreads calls over the instances.
///
/// When the instancer reports an error, the endpoints of the last known instances stay in use; with
/// `invalidateAfterError`, they are dropped (and closed) once the error has lasted that long
/// without a fresh set, and calls then fail with ``NoInstancesError`` naming the error.
///
/// ```swift
/// let endpointer = Endpointer(instancer, telemetry: telemetry) { instance in
///     InstanceEndpoint(try client.endpoint(.post, "http://\(instance)/sum", codec: .json))
/// }
/// let sum = endpointer.balanced(by: .powerOfTwoChoices(), retry: BalancerRetry(maxAttempts: 3))
/// ```
public final class Endpointer<Request: Sendable, Response: Sendable>: Service {
    /// Makes the endpoint of an instance; `nil` leaves an instance that is not for this endpointer
    /// out quietly (a gRPC address where HTTP ones are wanted), a thrown error leaves it out with a
    /// warning.
    public typealias Factory = @Sendable (_ instance: String) throws -> InstanceEndpoint<Request, Response>?

    /// One instance's endpoint and the state kept beside it.
    struct Entry: Sendable {
        let endpoint: Endpoint<Request, Response>
        let load: InstanceLoad
        let picks: Counter
        let close: (@Sendable () async -> Void)?
    }

    /// The endpoints in force. Readers copy it under the lock; only the run loop replaces it.
    struct Snapshot: Sendable {
        var entries: [Entry] = []
        /// The entries' loads, in the same order, for balancers.
        var loads: [InstanceLoad] = []
        /// Bumped on every change of `entries`.
        var version: UInt64 = 0
        /// The instancer's outstanding error.
        var error: (any Error)?
        /// Which error the pending invalidation belongs to.
        var errorGeneration: UInt64 = 0
    }

    /// The service's name, from the instancer.
    public let service: String
    let telemetry: Telemetry
    private let instancer: any Instancer
    private let factory: Factory
    private let invalidateAfterError: Duration?
    private let snapshot = Mutex(Snapshot())
    private let applied = LatestValueBroadcast<[String]>()
    private let picks: MetricFamily<Counter>
    private let logger: Logger

    /// Creates an endpointer; it makes endpoints once ``run()`` runs.
    /// - Parameters:
    ///   - instancer: Where the instances come from.
    ///   - telemetry: Where balancer picks (`kite_balancer_picks_total{service, instance}`),
    ///     factory errors and invalidations are recorded.
    ///   - invalidateAfterError: How long the last known endpoints stay in use while the instancer
    ///     reports an error; `nil` (the default) keeps them until the next fresh set.
    ///   - factory: Makes the endpoint of an instance.
    public init(
        _ instancer: some Instancer,
        telemetry: Telemetry,
        invalidateAfterError: Duration? = nil,
        factory: @escaping Factory
    ) {
        self.service = instancer.service
        self.telemetry = telemetry
        self.instancer = instancer
        self.factory = factory
        self.invalidateAfterError = invalidateAfterError
        self.picks = telemetry.registry.counter(
            "kite_balancer_picks_total",
            help: "Calls a load balancer sent to each instance.",
            labelNames: ["service", "instance"]
        )
        var logger = telemetry.logger
        logger[metadataKey: "service"] = "\(instancer.service)"
        self.logger = logger
    }

    /// The instances whose endpoints are in use.
    public var instances: [String] {
        self.snapshot.withLock { $0.loads.map(\.instance) }
    }

    /// The endpoints in use, in the order of ``instances``.
    public var endpoints: [Endpoint<Request, Response>] {
        self.snapshot.withLock { $0.entries.map(\.endpoint) }
    }

    /// The instances in use now (once the first set was applied), then after every change, once
    /// the endpoints of instances that left are closed — to wait for discovery in a start-up check
    /// or a test.
    public func changes() -> AsyncStream<[String]> {
        self.applied.subscribe()
    }

    /// Follows the instancer until graceful shutdown or cancellation, then closes every endpoint.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await self.follow()
        }
        let closing = self.snapshot.withLock { snapshot in
            defer {
                snapshot.entries = []
                snapshot.loads = []
                snapshot.version &+= 1
            }
            return snapshot.entries
        }
        self.applied.finish()
        await Self.close(closing)
    }

    private func follow() async {
        await withDiscardingTaskGroup { group in
            for await event in self.instancer.events() {
                if let error = event.error {
                    let generation = self.snapshot.withLock { snapshot in
                        let first = snapshot.error == nil
                        snapshot.error = error
                        if first { snapshot.errorGeneration &+= 1 }
                        return first ? snapshot.errorGeneration : nil
                    }
                    if let generation, let timeout = self.invalidateAfterError {
                        group.addTask {
                            guard (try? await Task.sleep(for: timeout)) != nil else { return }
                            await self.invalidate(generation: generation)
                        }
                    }
                } else {
                    await self.apply(event.instances)
                }
            }
            group.cancelAll()
        }
    }

    /// Makes the endpoints of `instances`, keeping those already made, and closes the rest.
    private func apply(_ instances: [String]) async {
        let current = self.snapshot.withLock { $0.entries }
        var kept: [String: Entry] = [:]
        for entry in current { kept[entry.load.instance] = entry }
        var entries: [Entry] = []
        entries.reserveCapacity(instances.count)
        for instance in instances {
            if let entry = kept.removeValue(forKey: instance) {
                entries.append(entry)
                continue
            }
            do {
                guard let made = try self.factory(instance) else { continue }
                entries.append(
                    Entry(
                        endpoint: made.endpoint,
                        load: InstanceLoad(instance: instance),
                        picks: self.picks.labels(self.service, instance),
                        close: made.close
                    )
                )
            } catch {
                self.logger.warning(
                    "endpointer could not make an endpoint; instance left out",
                    metadata: ["instance": "\(instance)", "error": "\(error)"]
                )
            }
        }
        let gone = Array(kept.values)
        self.snapshot.withLock { snapshot in
            snapshot.entries = entries
            snapshot.loads = entries.map(\.load)
            snapshot.version &+= 1
            snapshot.error = nil
        }
        for entry in gone { self.picks.remove(entry.picks) }
        await Self.close(gone)
        self.applied.update { _ in entries.map(\.load.instance) }
    }

    /// Drops every endpoint when the error of `generation` is still outstanding.
    private func invalidate(generation: UInt64) async {
        let dropped: [Entry]? = self.snapshot.withLock { snapshot in
            guard snapshot.error != nil, snapshot.errorGeneration == generation else { return nil }
            defer {
                snapshot.entries = []
                snapshot.loads = []
                snapshot.version &+= 1
            }
            return snapshot.entries
        }
        guard let dropped else { return }
        self.logger.warning(
            "endpointer dropped its endpoints: discovery kept failing",
            metadata: ["after": "\(self.invalidateAfterError.map { "\($0)" } ?? "")", "endpoints": "\(dropped.count)"]
        )
        await Self.close(dropped)
        self.applied.update { _ in [] }
    }

    private static func close(_ entries: [Entry]) async {
        for entry in entries {
            await entry.close?()
        }
    }

    /// The entry `balancer` picks, preferring instances not in `tried`, and the snapshot's version.
    func pick(with balancer: some LoadBalancer, avoiding tried: [String]) throws -> (entry: Entry, version: UInt64) {
        let (entries, loads, version, error) = self.snapshot.withLock { ($0.entries, $0.loads, $0.version, $0.error) }
        guard !entries.isEmpty else { throw NoInstancesError(service: self.service, discoveryError: error) }
        if !tried.isEmpty {
            let fresh = entries.indices.filter { !tried.contains(loads[$0].instance) }
            if !fresh.isEmpty {
                let index = fresh[balancer.pick(from: fresh.map { loads[$0] })]
                return (entries[index], version)
            }
        }
        return (entries[balancer.pick(from: loads)], version)
    }

    /// The version of the endpoints in use; it changes with them.
    var version: UInt64 {
        self.snapshot.withLock { $0.version }
    }
}
