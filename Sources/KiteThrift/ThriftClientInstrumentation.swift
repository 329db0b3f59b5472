import Kite
import KiteTelemetry
import Tracing

/// Runs each Thrift call a client endpoint makes in a client span whose context travels in Kite's
/// context field, and records `rpc.client.call.duration`.
///
/// Per call: a span `<service>/<method>` of kind client with `rpc.system` `thrift`, `rpc.service`,
/// `rpc.method`, `server.address`, `server.port`, and `error.type` (the code) when it failed;
/// status error for a failure (``CallOutcome/failure``). The metric is shared with gRPC's:
/// `rpc_client_call_duration_seconds{rpc_system="thrift", rpc_service, rpc_method, rpc_grpc_status_code}`.
struct ThriftClientInstrumentation: Sendable {
    let tracer: KiteTracer
    let durations: MetricFamily<Histogram>
    let service: String
    let serverAddress: String
    let serverPort: Int

    init(telemetry: Telemetry, service: String, serverAddress: String, serverPort: Int) {
        self.tracer = telemetry.tracer
        self.durations = telemetry.registry.histogram(
            "rpc_client_call_duration_seconds",
            help: "Duration of RPC calls made (OpenTelemetry rpc.client.call.duration).",
            labelNames: ["rpc_system", "rpc_service", "rpc_method", "rpc_grpc_status_code"]
        )
        self.service = service
        self.serverAddress = serverAddress
        self.serverPort = serverPort
    }

    struct Method: Sendable {
        let name: String
        let spanName: String
        let okDurations: Histogram
        let failed: @Sendable (ErrorCode) -> Histogram
    }

    func method(_ name: String) -> Method {
        let durations = self.durations
        let service = self.service
        return Method(
            name: name,
            spanName: "\(service)/\(name)",
            okDurations: durations.labels(["thrift", service, name, "0"]),
            failed: { code in durations.labels(["thrift", service, name, String(code.rawValue)]) }
        )
    }

    /// Makes one call: `body` gets the context to carry (trace context, `kite-timeout`) and the
    /// time it may take.
    func call<Response>(
        _ method: Method,
        timeout fallback: Duration,
        body: ([String: String], Duration) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        let parent = ServiceContext.current ?? .topLevel
        let span = self.tracer.startSpan(method.spanName, context: parent, ofKind: .client)
        if span.isRecording {
            span.setAttribute("rpc.system", "thrift")
            span.setAttribute("rpc.service", self.service)
            span.setAttribute("rpc.method", method.name)
            span.setAttribute("server.address", self.serverAddress)
            span.setAttribute("server.port", self.serverPort)
        }
        var code = ErrorCode.ok
        defer {
            span.end()
            (code == .ok ? method.okDurations : method.failed(code)).observe(start.duration(to: .now), for: span)
        }
        do {
            let timeout = CallDeadline.timeout(in: parent, fallback: fallback, now: start) ?? fallback
            guard timeout > .zero else {
                throw RemoteError(code: .deadlineExceeded, message: "the deadline passed before the call was made")
            }
            var context: [String: String] = [:]
            self.tracer.inject(span.context, into: &context, using: DictionaryInjector())
            let (seconds, attoseconds) = timeout.components
            context[ThriftCallCoding.timeoutKey] = String(seconds * 1000 + attoseconds / 1_000_000_000_000_000)
            return try await body(context, timeout)
        } catch {
            code = span.recordCallError(error)
            throw error
        }
    }
}
