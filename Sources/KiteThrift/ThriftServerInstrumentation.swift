import Kite
import KiteTelemetry
import Tracing

/// Runs each Thrift call served in a server span that continues the caller's trace (from Kite's
/// context field), under the caller's deadline, and records `rpc.server.call.duration`.
///
/// Per call: a span `<service>/<method>` of kind server with `rpc.system` `thrift`,
/// `rpc.service`, `rpc.method`, `network.peer.address`; `error.type` (the code) when it failed,
/// and status error for a failure (``CallOutcome/failure``; a declared exception that is a
/// business error is an answer). The metric is shared with gRPC's:
/// `rpc_server_call_duration_seconds{rpc_system="thrift", rpc_service, rpc_method, rpc_grpc_status_code}`
/// — the code being Kite's ``ErrorCode`` (gRPC's numbering).
struct ThriftServerInstrumentation: Sendable {
    let tracer: KiteTracer
    let durations: MetricFamily<Histogram>
    let service: String

    init(telemetry: Telemetry, service: String) {
        self.tracer = telemetry.tracer
        self.durations = telemetry.registry.histogram(
            "rpc_server_call_duration_seconds",
            help: "Duration of RPC calls served (OpenTelemetry rpc.server.call.duration).",
            labelNames: ["rpc_system", "rpc_service", "rpc_method", "rpc_grpc_status_code"]
        )
        self.service = service
    }

    /// The names and success series of one method, resolved once.
    struct Method: Sendable {
        let service: String
        let name: String
        let spanName: String
        let okDurations: Histogram
        let durations: MetricFamily<Histogram>

        func durations(for code: ErrorCode) -> Histogram {
            code == .ok ? self.okDurations : self.durations.labels(["thrift", self.service, self.name, String(code.rawValue)])
        }
    }

    func method(_ name: String) -> Method {
        Method(
            service: self.service,
            name: name,
            spanName: "\(self.service)/\(name)",
            okDurations: self.durations.labels(["thrift", self.service, name, "0"]),
            durations: self.durations
        )
    }

    /// Serves one call: `body` runs in the span's context; an error it throws is recorded and
    /// rethrown (to be answered).
    func serve<Result>(
        _ method: Method,
        context carried: [String: String],
        peer: String?,
        body: () async throws -> Result
    ) async throws -> Result {
        let start = ContinuousClock.now
        var context = ServiceContext.current ?? .topLevel
        if !carried.isEmpty {
            self.tracer.extract(carried, into: &context, using: DictionaryExtractor())
            if let milliseconds = carried[ThriftCallCoding.timeoutKey].flatMap({ Int($0) }), milliseconds >= 0 {
                context.deadline = start.advanced(by: .milliseconds(milliseconds))
            }
        }
        let span = self.tracer.startSpan(method.spanName, context: context, ofKind: .server)
        if span.isRecording {
            span.setAttribute("rpc.system", "thrift")
            span.setAttribute("rpc.service", method.service)
            span.setAttribute("rpc.method", method.name)
            if let peer { span.setAttribute("network.peer.address", peer) }
        }
        var code = ErrorCode.ok
        defer {
            span.end()
            method.durations(for: code).observe(start.duration(to: .now), for: span)
        }
        do {
            return try await ServiceContext.$current.withValue(span.context) { try await body() }
        } catch {
            code = span.recordCallError(error)
            throw error
        }
    }
}
