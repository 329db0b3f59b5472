import GRPCCore
import Kite
import SwiftProtobuf

/// gRPC's standard health service (`grpc.health.v1.Health`), answering from a ``Readiness``:
/// `SERVING` while the service is ready, `NOT_SERVING` before every server listens and from the
/// moment graceful shutdown starts. The empty service name asks about the whole server; a service
/// the server serves answers the same; any other name is `NOT_FOUND` for `Check` and
/// `SERVICE_UNKNOWN` for `Watch`, as the protocol says. A `Watch` stream ends when graceful
/// shutdown starts, after its `NOT_SERVING`.
struct GRPCHealthService: Sendable {
    let readiness: Readiness
    let services: Set<String>

    func register(in routes: inout GRPCRoutes, tracing: Bool) {
        let health = self
        routes.register(
            Grpc_Health_V1_Health.Method.Check.descriptor,
            Grpc_Health_V1_HealthCheckRequest.self,
            Grpc_Health_V1_HealthCheckResponse.self,
            clientStreams: false,
            traced: tracing,
            options: .init()
        ) { messages, writer, _ in
            let asked = try await GRPCRoutes.single(messages)
            guard health.knows(asked.service) else {
                throw RPCError(code: .notFound, message: "unknown service \(asked.service)")
            }
            try await writer.write(health.response(ready: health.readiness.isReady))
        }
        routes.register(
            Grpc_Health_V1_Health.Method.Watch.descriptor,
            Grpc_Health_V1_HealthCheckRequest.self,
            Grpc_Health_V1_HealthCheckResponse.self,
            clientStreams: false,
            traced: tracing,
            options: .init()
        ) { messages, writer, _ in
            let asked = try await GRPCRoutes.single(messages)
            let known = health.knows(asked.service)
            if !known {
                try await writer.write(.with { $0.status = .serviceUnknown })
            }
            // The stream stays open (the protocol's rule) until the caller leaves or the server
            // shuts down; graceful shutdown must not wait on watchers.
            for await ready in health.readiness.changes() {
                if known { try await writer.write(health.response(ready: ready)) }
                if health.readiness.isShuttingDown { break }
            }
        }
    }

    private func knows(_ service: String) -> Bool {
        service.isEmpty || self.services.contains(service)
    }

    private func response(ready: Bool) -> Grpc_Health_V1_HealthCheckResponse {
        .with { $0.status = ready ? .serving : .notServing }
    }
}
