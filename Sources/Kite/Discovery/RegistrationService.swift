import KiteTelemetry
import Logging
import ServiceLifecycle
import Synchronization

/// Runs a ``Registrar`` for the service's lifetime, as a `Service` of its `ServiceGroup`:
///
/// - waits until the ``Readiness`` says the service is ready (every server listens), then
///   registers;
/// - keeps the registration alive, and registers again whenever the backend lost it; a failed
///   registration is tried again after a backoff (doubling from 100 ms to 5 s);
/// - deregisters as soon as graceful shutdown starts — when the readiness turns to shutting down,
///   which the servers do before they drain, or when this service itself is told to stop — so
///   that callers stop picking the instance before its listeners close.
///
/// Telemetry, labelled `{service, instance}`: `kite_discovery_registered` (1 while registered,
/// else 0), `kite_discovery_registrations_total`, `kite_discovery_registration_errors_total`,
/// `kite_discovery_registrations_lost_total`, and a log line for each of these events.
public final class RegistrationService: Service {
    private let makeRegistrar: @Sendable () throws -> any Registrar
    private let readiness: Readiness?
    private let telemetry: Telemetry
    private let everRegistered = Atomic<Bool>(false)

    /// Creates the service.
    /// - Parameters:
    ///   - registrar: The backend's registrar for this instance.
    ///   - readiness: The service's readiness: registration waits for it, and graceful shutdown
    ///     seen by any server deregisters at once. `nil` registers at once.
    ///   - telemetry: Where the metrics and log lines go.
    public convenience init(_ registrar: some Registrar, readiness: Readiness? = nil, telemetry: Telemetry) {
        self.init(readiness: readiness, telemetry: telemetry) { registrar }
    }

    /// Creates the service with a registrar made once the service is ready — for an instance whose
    /// address is known only when its servers listen (a port the system picked).
    /// - Parameters:
    ///   - readiness: The service's readiness (see ``init(_:readiness:telemetry:)``).
    ///   - telemetry: Where the metrics and log lines go.
    ///   - registrar: Makes the registrar; an error it throws ends ``run()`` with that error.
    public init(readiness: Readiness?, telemetry: Telemetry, registrar: @escaping @Sendable () throws -> any Registrar) {
        self.makeRegistrar = registrar
        self.readiness = readiness
        self.telemetry = telemetry
    }

    public func run() async throws {
        let readiness = self.readiness
        let registration: Registration? = try await cancelWhenGracefulShutdown {
            guard await self.waitUntilReady() else { return nil }
            let registration = Registration(try self.makeRegistrar(), telemetry: self.telemetry)
            await withTaskGroup(of: Void.self) { group in
                if let readiness {
                    group.addTask { await Self.waitForShutdown(of: readiness) }
                }
                group.addTask { await self.stayRegistered(registration) }
                await group.next()
                group.cancelAll()
            }
            return registration
        }
        if let registration {
            registration.registered.set(0)
            if self.everRegistered.load(ordering: .relaxed) {
                do {
                    // Outside this task's cancellation: a service whose task was cancelled (not
                    // shut down gracefully) still deregisters, instead of having the request
                    // cancelled before it is sent. The registrar's own timeouts bound it.
                    let registrar = registration.registrar
                    try await Task { try await registrar.deregister() }.value
                    registration.logger.info("deregistered")
                } catch {
                    registration.errors.increment()
                    registration.logger.warning(
                        "deregistration failed; the backend drops the instance when its lease or check expires",
                        metadata: ["error": "\(error)"]
                    )
                }
            }
        }
        // Deregistered because a server began shutting down: stay until this service's own turn.
        try? await gracefulShutdown()
    }

    /// Registers, keeps alive, and registers again after a loss, until cancelled.
    private func stayRegistered(_ registration: Registration) async {
        var backoff = Duration.milliseconds(100)
        while !Task.isCancelled {
            do {
                try await registration.registrar.register()
            } catch {
                if Task.isCancelled { return }
                registration.errors.increment()
                registration.logger.warning("registration failed; trying again", metadata: ["error": "\(error)", "backoff": "\(backoff)"])
                guard (try? await Task.sleep(for: backoff)) != nil else { return }
                backoff = min(backoff * 2, .seconds(5))
                continue
            }
            backoff = .milliseconds(100)
            self.everRegistered.store(true, ordering: .relaxed)
            registration.registered.set(1)
            registration.registrations.increment()
            registration.logger.info("registered")
            let cause: String
            do {
                try await registration.registrar.keepAlive()
                cause = "the backend ended the registration"
            } catch {
                cause = "\(error)"
            }
            if Task.isCancelled { return }
            registration.registered.set(0)
            registration.lost.increment()
            registration.logger.warning("registration lost; registering again", metadata: ["cause": "\(cause)"])
        }
    }

    /// Waits until the readiness says ready; `false` when shutdown came first or the task was cancelled.
    private func waitUntilReady() async -> Bool {
        guard let readiness = self.readiness else { return !Task.isCancelled }
        for await ready in readiness.changes() {
            if ready { return true }
            if readiness.isShuttingDown { return false }
        }
        return false
    }

    /// Returns when graceful shutdown started for any server of `readiness`.
    private static func waitForShutdown(of readiness: Readiness) async {
        for await _ in readiness.changes() where readiness.isShuttingDown {
            return
        }
    }

    /// A registrar and the metric handles and logger labelled with its service and instance.
    private struct Registration: Sendable {
        let registrar: any Registrar
        let logger: Logger
        let registered: Gauge
        let registrations: Counter
        let errors: Counter
        let lost: Counter

        init(_ registrar: any Registrar, telemetry: Telemetry) {
            self.registrar = registrar
            var logger = telemetry.logger
            logger[metadataKey: "service"] = "\(registrar.service)"
            logger[metadataKey: "instance"] = "\(registrar.instance)"
            logger[metadataKey: "backend"] = "\(registrar.backend)"
            self.logger = logger
            let registry = telemetry.registry
            let labels = ["service", "instance"]
            self.registered = registry.gauge(
                "kite_discovery_registered",
                help: "Whether this instance is registered with its discovery backend (1) or not (0).",
                labelNames: labels
            ).labels(registrar.service, registrar.instance)
            self.registrations = registry.counter(
                "kite_discovery_registrations_total",
                help: "Registrations of this instance made with its discovery backend.",
                labelNames: labels
            ).labels(registrar.service, registrar.instance)
            self.errors = registry.counter(
                "kite_discovery_registration_errors_total",
                help: "Failed attempts to register this instance or keep it registered.",
                labelNames: labels
            ).labels(registrar.service, registrar.instance)
            self.lost = registry.counter(
                "kite_discovery_registrations_lost_total",
                help: "Registrations of this instance the discovery backend lost (expired lease or session).",
                labelNames: labels
            ).labels(registrar.service, registrar.instance)
        }
    }
}
