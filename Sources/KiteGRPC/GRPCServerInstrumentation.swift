import GRPCCore
import Kite
import NIOCore
import Synchronization
import KiteTelemetry
import Tracing

/// Runs each served call in a server span that continues the caller's trace, under the caller's
/// deadline, and records `rpc.server.call.duration`.
///
/// Per call: a span `service/method` of kind server with OpenTelemetry's RPC attributes
/// (`rpc.system`, `rpc.service`, `rpc.method`, `rpc.grpc.status_code`, `network.peer.address`,
/// `network.peer.port`); its status is error for the codes OpenTelemetry lists for servers
/// (`UNKNOWN`, `DEADLINE_EXCEEDED`, `UNIMPLEMENTED`, `INTERNAL`, `UNAVAILABLE`, `DATA_LOSS`);
/// streaming calls add a `message` event per message (`rpc.message.type` `SENT`/`RECEIVED`,
/// `rpc.message.id`). The metric is
/// `rpc_server_call_duration_seconds{rpc_system, rpc_service, rpc_method, rpc_grpc_status_code}`.
struct GRPCServerInstrumentation: Sendable {
    let tracer: KiteTracer
    let durations: MetricFamily<Histogram>

    init(telemetry: Telemetry) {
        self.tracer = telemetry.tracer
        self.durations = telemetry.registry.histogram(
            "rpc_server_call_duration_seconds",
            help: "Duration of gRPC calls served (OpenTelemetry rpc.server.call.duration).",
            labelNames: ["rpc_system", "rpc_service", "rpc_method", "rpc_grpc_status_code"]
        )
    }

    /// The instruments of `descriptor`, resolved once, when the route or endpoint is made.
    func method(_ descriptor: MethodDescriptor) -> GRPCMethodInstruments {
        GRPCMethodInstruments(descriptor, durations: self.durations)
    }

    /// Serves one call: `body` runs in the server span's context; what it returns comes back with
    /// the trailing metadata (the route's `after` hooks' work), what it throws is answered under
    /// Kite's error model (as an `RPCError`).
    func serve<Result>(
        _ method: GRPCMethodInstruments,
        call: GRPCServerCall,
        options: GRPCServerOptions,
        traced: Bool = true,
        body: (GRPCCallSpan) async throws -> Result
    ) async throws -> (Result, Metadata) {
        let start = ContinuousClock.now
        var serviceContext = ServiceContext.current ?? .topLevel
        self.tracer.extract(call.metadata, into: &serviceContext, using: GRPCMetadataExtractor())
        if let timeout = call.timeout {
            serviceContext.deadline = start.advanced(by: timeout)
        }
        for before in options.before {
            before(call.metadata, &serviceContext)
        }
        let span = traced ? self.tracer.startSpan(method.spanName, context: serviceContext, ofKind: .server) : nil
        if let span, span.isRecording {
            span.setAttribute("rpc.system", "grpc")
            span.setAttribute("rpc.service", method.service)
            span.setAttribute("rpc.method", method.name)
            if let peer = call.peer {
                span.setAttribute("network.peer.address", peer.address)
                span.setAttribute("network.peer.port", peer.port)
            }
        }
        let callSpan = GRPCCallSpan(span: span)
        var code = ErrorCode.ok
        defer {
            if let span, span.isRecording {
                span.setAttribute("rpc.grpc.status_code", code.rawValue)
                if code != .ok { span.setAttribute("error.type", code.name) }
                if Self.isServerError(code) { span.setStatus(SpanStatus(code: .error)) }
            }
            span?.end()
            method.durations(for: code).observe(start.duration(to: .now), for: span)
        }
        do {
            let result = try await ServiceContext.$current.withValue(span?.context ?? serviceContext) {
                try await body(callSpan)
            }
            var trailing = Metadata()
            for after in options.after {
                after(&trailing)
            }
            return (result, trailing)
        } catch {
            let rpcError = GRPCErrorMapping.rpcError(for: error)
            // A call the engine cancelled (the caller left, its deadline passed) ends with that
            // reason, whatever the handler was doing when it noticed.
            code = call.cancellation.code ?? GRPCErrorMapping.errorCode(rpcError.code)
            throw rpcError
        }
    }

    /// Whether OpenTelemetry counts `code` as an error of the server.
    static func isServerError(_ code: ErrorCode) -> Bool {
        switch code {
        case .unknown, .deadlineExceeded, .unimplemented, .internal, .unavailable, .dataLoss: true
        default: false
        }
    }
}

/// The span of one gRPC call, for per-message events on streams.
struct GRPCCallSpan: Sendable {
    let span: KiteSpan?
    private let sent = MessageCount()
    private let received = MessageCount()

    init(span: KiteSpan?) {
        self.span = span
    }

    /// Records a `message` event for a message sent.
    func messageSent() {
        self.event("SENT", id: self.sent.next())
    }

    /// Records a `message` event for a message received.
    func messageReceived() {
        self.event("RECEIVED", id: self.received.next())
    }

    private func event(_ type: String, id: Int) {
        guard let span = self.span, span.isRecording else { return }
        span.addEvent(SpanEvent(name: "message", attributes: ["rpc.message.type": .string(type), "rpc.message.id": .int64(Int64(id))]))
    }

    /// Message ids count from 1 in each direction.
    private final class MessageCount: Sendable {
        private let value = Atomic<Int>(0)
        func next() -> Int { self.value.wrappingAdd(1, ordering: .relaxed).newValue }
    }
}
