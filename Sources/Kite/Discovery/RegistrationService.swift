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
    private let registrar: any Registrar
    private let readiness: Readiness?
    private let logger: Logger
    private let registered: Gauge
    private let registrations: Counter
    private let errors: Counter
    private let lost: Counter
    private let everRegistered = Atomic<Bool>(false)

    /// Creates the service.
    /// - Parameters:
    ///   - registrar: The backend's registrar for this instance.
    ///   - readiness: The service's readiness: registration waits for it, and graceful shutdown
    ///     seen by any server deregisters at once. `nil` registers at once.
    ///   - telemetry: Where the metrics and log lines go.
    public init(_ registrar: some Registrar, readiness: Readiness? = nil, telemetry: Telemetry) {
        self.registrar = registrar
        self.readiness = readiness
        var logger = telemetry.logger
        logger[metadataKey: "service"] = "\(registrar.service)"
        logger[metadataKey: "instance"] = "\(registrar.instance)"
        logger[metadataKey: "backend"] = "\(registrar.backend)"
        self.logger = logger
        let registry = telemetry.registry
        self.registered = registry.gauge(
            "kite_discovery_registered",
            help: "Whether this instance is registered with its discovery backend (1) or not (0).",
            labelNames: ["service", "instance"]
        ).labels(registrar.service, registrar.instance)
        self.registrations = registry.counter(
            "kite_discovery_registrations_total",
            help: "Registrations of this instance made with its discovery backend.",
            labelNames: ["service", "instance"]
        ).labels(registrar.service, registrar.instance)
        self.errors = registry.counter(
            "kite_discovery_registration_errors_total",
            help: "Failed attempts to register this instance or keep it registered.",
            labelNames: ["service", "instance"]
        ).labels(registrar.service, registrar.instance)
        self.lost = registry.counter(
            "kite_discovery_registrations_lost_total",
            help: "Registrations of this instance the discovery backend lost (expired lease or session).",
            labelNames: ["service", "instance"]
        ).labels(registrar.service, registrar.instance)
    }

    public func run() async throws {
        let readiness = self.readiness
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                if let readiness {
                    group.addTask { await Self.waitForShutdown(of: readiness) }
                }
                group.addTask {
                    guard await self.waitUntilReady() else { return }
                    await self.stayRegistered()
                }
                await group.next()
                group.cancelAll()
            }
        }
        self.registered.set(0)
        if self.everRegistered.load(ordering: .relaxed) {
            do {
                try await self.registrar.deregister()
                self.logger.info("deregistered")
            } catch {
                self.errors.increment()
                self.logger.warning(
                    "deregistration failed; the backend drops the instance when its lease or check expires",
                    metadata: ["error": "\(error)"]
                )
            }
        }
        // Deregistered because a server began shutting down: stay until this service's own turn.
        try? await gracefulShutdown()
    }

    /// Registers, keeps alive, and registers again after a loss, until cancelled.
    private func stayRegistered() async {
        var backoff = Duration.milliseconds(100)
        while !Task.isCancelled {
            do {
                try await self.registrar.register()
            } catch {
                if Task.isCancelled { return }
                self.errors.increment()
                self.logger.warning("registration failed; trying again", metadata: ["error": "\(error)", "backoff": "\(backoff)"])
                guard (try? await Task.sleep(for: backoff)) != nil else { return }
                backoff = min(backoff * 2, .seconds(5))
                continue
            }
            backoff = .milliseconds(100)
            self.everRegistered.store(true, ordering: .relaxed)
            self.registered.set(1)
            self.registrations.increment()
            self.logger.info("registered")
            let cause: String
            do {
                try await self.registrar.keepAlive()
                cause = "the backend ended the registration"
            } catch {
                cause = "\(error)"
            }
            if Task.isCancelled { return }
            self.registered.set(0)
            self.lost.increment()
            self.logger.warning("registration lost; registering again", metadata: ["cause": "\(cause)"])
        }
    }

    /// Waits until the readiness says ready; `false` when shutdown came first or the task was cancelled.
    private func waitUntilReady() async -> Bool {
        guard let readiness = self.readiness else { return true }
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
}
