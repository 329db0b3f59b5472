import GRPCCore
import Kite
import KiteTelemetry
import Tracing

/// Runs each outgoing call in a client span whose context travels in the metadata, with the
/// deadline left, and records `rpc.client.call.duration`.
///
/// Per call: a span `service/method` of kind client with `rpc.system`, `rpc.service`,
/// `rpc.method`, `server.address`, `server.port` and `rpc.grpc.status_code`; its status is error
/// when the call failed (``CallOutcome/failure``) — a business error the server answered with is
/// an answer, not an error, on the client's span as on the server's. The metric is
/// `rpc_client_call_duration_seconds{rpc_system, rpc_service, rpc_method, rpc_grpc_status_code}`.
struct GRPCClientInstrumentation: Sendable {
    let tracer: KiteTracer
    let durations: MetricFamily<Histogram>
    let serverAddress: String
    let serverPort: Int

    init(telemetry: Telemetry, serverAddress: String, serverPort: Int) {
        self.tracer = telemetry.tracer
        self.durations = telemetry.registry.histogram(
            "rpc_client_call_duration_seconds",
            help: "Duration of gRPC calls made (OpenTelemetry rpc.client.call.duration).",
            labelNames: ["rpc_system", "rpc_service", "rpc_method", "rpc_grpc_status_code"]
        )
        self.serverAddress = serverAddress
        self.serverPort = serverPort
    }

    /// The instruments of `descriptor`, resolved once, when the route or endpoint is made.
    func method(_ descriptor: MethodDescriptor) -> GRPCMethodInstruments {
        GRPCMethodInstruments(descriptor, durations: self.durations)
    }

    /// Makes one call: `body` gets the metadata (trace context and the `before` hooks applied),
    /// the call options (the deadline left) and the span; a status the server answered with is
    /// thrown as the options' decoded error.
    func call<Result>(
        _ method: GRPCMethodInstruments,
        options: GRPCClientOptions,
        body: (Metadata, CallOptions, GRPCCallSpan) async throws -> Result
    ) async throws -> Result {
        let start = ContinuousClock.now
        let parent = ServiceContext.current ?? .topLevel
        let span = self.tracer.startSpan(method.spanName, context: parent, ofKind: .client)
        if span.isRecording {
            span.setAttribute("rpc.system", "grpc")
            span.setAttribute("rpc.service", method.service)
            span.setAttribute("rpc.method", method.name)
            span.setAttribute("server.address", self.serverAddress)
            span.setAttribute("server.port", self.serverPort)
        }
        var code = ErrorCode.ok
        var failed = false
        defer {
            if span.isRecording {
                span.setAttribute("rpc.grpc.status_code", code.rawValue)
                if code != .ok { span.setAttribute("error.type", code.name) }
                if failed { span.setStatus(SpanStatus(code: .error)) }
            }
            span.end()
            method.durations(for: code).observe(start.duration(to: .now), for: span)
        }
        do {
            var metadata = Metadata()
            self.tracer.inject(span.context, into: &metadata, using: GRPCMetadataInjector())
            for before in options.before {
                before(&metadata)
            }
            var callOptions = CallOptions.defaults
            if let timeout = CallDeadline.timeout(in: parent, fallback: options.timeout) {
                guard timeout > .zero else {
                    throw RPCError(code: .deadlineExceeded, message: "the deadline passed before the call was made")
                }
                callOptions.timeout = timeout
            }
            return try await body(metadata, callOptions, GRPCCallSpan(span: span))
        } catch let error as RPCError {
            code = GRPCErrorMapping.errorCode(error.code)
            let decoded = options.decodeError(GRPCErrorMapping.remoteError(for: error))
            failed = CallOutcome(of: decoded) == .failure
            if failed { span.recordError(decoded) }
            throw decoded
        } catch {
            code = CallOutcome.code(of: error)
            failed = CallOutcome(of: error) == .failure
            if failed { span.recordError(error) }
            throw error
        }
    }
}
