import Kite
import KiteTelemetry
import Logging
import NIOCore
import ServiceLifecycle

/// Serves Kite endpoints over NATS request/reply — go-kit's NATS subscriber.
///
/// ```swift
/// let nats = try NATSClient(configuration: .init(servers: ["nats://127.0.0.1:4222"]), telemetry: telemetry)
/// let server = NATSEndpointServer(client: nats, configuration: .init(queueGroup: "addsvc"), telemetry: telemetry) { routes in
///     routes.respond("addsvc.sum", endpoints.sum)
/// }
/// try await ServiceGroup(services: [telemetry, nats, server], logger: telemetry.logger).run()
/// ```
///
/// Each subject is a subscription in the configured queue group, so that instances share the
/// load. A request is decoded, passed to the endpoint in a span continuing the requester's trace
/// (``NATSServerInstrumentation``), and answered on its reply subject; an error is answered
/// under Kite's error model (``NATSErrorHeaders``). A message without a reply subject is
/// processed and not answered. At most ``Configuration/maxConcurrentRequests`` run at once per
/// subject; the rest wait in the subscription's buffer.
///
/// The server counts as listening in its ``Readiness`` once the server has confirmed its
/// subscriptions. On graceful shutdown it turns not ready, drains its subscriptions (the
/// messages already routed to it are still answered; new ones go to the other members of the
/// queue group), and waits for the calls in flight, up to ``Configuration/shutdownTimeout``.
public struct NATSEndpointServer: Service {
    /// How to serve.
    public struct Configuration: Sendable {
        /// The queue group every subscription joins (`nil`: none, every instance gets every
        /// request). Default `nil`.
        public var queueGroup: String?
        /// How many requests per subject run at once. Default 1,024.
        public var maxConcurrentRequests: Int
        /// How long calls in flight may take once graceful shutdown starts. Default 10 s.
        public var shutdownTimeout: Duration

        /// Creates a configuration.
        public init(queueGroup: String? = nil, maxConcurrentRequests: Int = 1024, shutdownTimeout: Duration = .seconds(10)) {
            self.queueGroup = queueGroup
            self.maxConcurrentRequests = max(1, maxConcurrentRequests)
            self.shutdownTimeout = shutdownTimeout
        }
    }

    /// The configuration.
    public let configuration: Configuration
    /// The readiness the server reports to, shared with the other servers of the service.
    public let readiness: Readiness
    private let registration: Readiness.Registration
    private let client: NATSClient
    private let routes: [NATSRoutes.Route]
    private let logger: Logger

    /// Creates a server.
    /// - Parameters:
    ///   - client: The connection it serves on (run it in the same service group, before this).
    ///   - configuration: Queue group, limits.
    ///   - telemetry: The pipeline calls are recorded in.
    ///   - readiness: The readiness shared by the servers of the service; a new one by default.
    ///   - routes: Adds the subjects.
    public init(
        client: NATSClient,
        configuration: Configuration = .init(),
        telemetry: Telemetry,
        readiness: Readiness = Readiness(),
        routes: (inout NATSRoutes) -> Void
    ) {
        self.client = client
        self.configuration = configuration
        self.readiness = readiness
        self.registration = readiness.register()
        var list = NATSRoutes(instrumentation: NATSServerInstrumentation(telemetry: telemetry), defaultQueue: configuration.queueGroup)
        routes(&list)
        self.routes = list.routes
        self.logger = telemetry.makeLogger(label: "kite.nats")
    }

    /// Serves until graceful shutdown.
    /// - Throws: ``NATSError/invalidSubject(_:)`` for a subject or queue group NATS does not
    ///   accept, ``NATSError/closed`` when the client is closed.
    public func run() async throws {
        let subscriptions = try self.routes.map { route throws(NATSError) in
            (route, try self.client.subscribe(to: route.subject.subject, queue: route.subject.queue))
        }
        let registration = self.registration
        defer { self.readiness.setListening(false, for: registration) }
        let finished = try await self.readiness.serveUntilShutdown(
            timeout: self.configuration.shutdownTimeout,
            onShutdown: {
                self.readiness.setListening(false, for: registration)
            },
            serve: {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (route, subscription) in subscriptions {
                        group.addTask { await self.serve(route, from: subscription) }
                    }
                    group.addTask { try await self.announceReady() }
                    group.addTask {
                        // On graceful shutdown: stop taking requests, answer those routed here already.
                        try? await gracefulShutdown()
                        for (_, subscription) in subscriptions { await subscription.drain() }
                    }
                    try await group.waitForAll()
                }
            }
        )
        if !finished {
            self.logger.warning("nats: calls still in flight \(self.configuration.shutdownTimeout) after graceful shutdown began were cancelled")
        }
    }

    /// Marks the server listening once the NATS server has confirmed the subscriptions.
    private func announceReady() async throws {
        while true {
            try await self.client.waitUntilConnected()
            do {
                try await self.client.flush()
                break
            } catch NATSError.notConnected {
                continue  // lost meanwhile: wait for the next connection
            } catch NATSError.timedOut {
                continue
            }
        }
        guard !self.readiness.isShuttingDown else { return }
        self.readiness.setListening(true, for: self.registration)
        let subjects = self.routes.map(\.subject.subject).joined(separator: ",")
        self.logger.info("nats: serving", metadata: ["subjects": "\(subjects)", "queue": "\(self.configuration.queueGroup ?? "")"])
    }

    /// Answers the messages of one subscription, at most `maxConcurrentRequests` at once.
    private func serve(_ route: NATSRoutes.Route, from subscription: NATSSubscription) async {
        let limit = self.configuration.maxConcurrentRequests
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for await message in subscription {
                if running >= limit {
                    await group.next()
                    running -= 1
                }
                running += 1
                group.addTask { await self.answer(message, with: route) }
            }
        }
    }

    private func answer(_ message: NATSMessage, with route: NATSRoutes.Route) async {
        let (headers, payload) = await route.answer(message)
        guard let replyTo = message.replyTo else { return }
        do {
            try self.client.publish(payload, to: replyTo, headers: headers)
        } catch .payloadTooLarge(let size, let maxPayload) {
            // The answer itself is too large: say so instead, in an answer that fits.
            let (headers, payload) = NATSErrorHeaders.answer(NATSError.payloadTooLarge(size: size, maxPayload: maxPayload))
            try? self.client.publish(payload, to: replyTo, headers: headers)
        } catch {
            self.logger.warning("nats: could not send a reply", metadata: ["subject": "\(message.subject)", "error": "\(error)"])
        }
    }
}
