import KiteTelemetry
import Logging
import Synchronization
import Tracing

/// What ``Endpoint/instrumented(_:_:options:)`` records besides the span and metrics.
public struct InstrumentationOptions: Sendable {
    /// Which calls get a log line.
    public enum LogSampling: Sendable, Hashable {
        /// Every call.
        case all
        /// One call in `n` (the first, then every `n`th). Calls that threw are always logged.
        case oneIn(Int)
        /// No successful call; calls that threw are still logged.
        case none
    }

    /// Level of the line for a successful call. Default `.info`.
    public var logLevel: Logger.Level
    /// Level of the line for a failed call (a business error is logged at ``logLevel``). Default `.warning`.
    public var errorLogLevel: Logger.Level
    /// Which successful calls are logged. Default all.
    public var logSampling: LogSampling
    /// The kind of the endpoint's span. Default `.internal` (a transport adds the server span).
    public var spanKind: SpanKind

    /// Creates options.
    public init(
        logLevel: Logger.Level = .info,
        errorLogLevel: Logger.Level = .warning,
        logSampling: LogSampling = .all,
        spanKind: SpanKind = .internal
    ) {
        self.logLevel = logLevel
        self.errorLogLevel = errorLogLevel
        self.logSampling = logSampling
        self.spanKind = spanKind
    }
}

extension Endpoint {
    /// The endpoint with a span, RED metrics and a log line per call — the one decorator.
    ///
    /// Per call:
    /// - a span named `name`, child of the task's current span (a transport's server span);
    ///   a thrown error is recorded on it as an event with `error.type`; only a failure sets the
    ///   span's status to error (a business error is an answer, as a 4xx is for an HTTP server);
    /// - `kite_endpoint_requests_total{endpoint, outcome, error_type}` (`outcome` is ``CallOutcome``'s
    ///   label: `success`, `business_error` or `failure`; `error_type` is the error's type name,
    ///   empty on success), `kite_endpoint_request_duration_seconds{endpoint, outcome}` (histogram)
    ///   and `kite_endpoint_in_flight{endpoint}`;
    /// - one log line (`msg="endpoint call"`, `endpoint`, `outcome`, `duration_seconds`, and
    ///   `error_type`/`error` when it threw), carrying the span's `trace_id`/`span_id`. A business
    ///   error is logged at the success level, a failure at ``InstrumentationOptions/errorLogLevel``.
    ///
    /// The label handles for success are resolved here, once; a successful call costs two atomic
    /// additions for the metrics.
    /// - Parameters:
    ///   - name: The endpoint's name, used for the span, the `endpoint` label and the log line.
    ///   - telemetry: The pipeline to record into.
    ///   - options: Log level and sampling, span kind.
    @inlinable
    public func instrumented(
        _ name: String,
        _ telemetry: Telemetry,
        options: InstrumentationOptions = .init()
    ) -> Endpoint {
        Middleware.instrumentation(name, telemetry, options: options).wrap(self)
    }
}

extension Middleware {
    /// The middleware behind ``Endpoint/instrumented(_:_:options:)``.
    ///
    /// Inlinable, so that its closure is specialised for the endpoint's request and response
    /// types where it is used: the generic part is only the call of the next endpoint, between
    /// ``EndpointInstruments``' non-generic start and end of a call. Compiled unspecialised in
    /// Kite, each call took fourteen task allocations and looked up generic metadata.
    @inlinable
    public static func instrumentation(
        _ name: String,
        _ telemetry: Telemetry,
        options: InstrumentationOptions = .init()
    ) -> Middleware {
        let instruments = EndpointInstruments(name: name, telemetry: telemetry, options: options)
        return Middleware { next in
            Endpoint { request in
                let call = instruments.begin()
                let response: Response
                do {
                    if let context = call.context {
                        response = try await ServiceContext.$current.withValue(context) { try await next(request) }
                    } else {
                        // The span kept its parent's context (an unsampled trace): no task-local to set.
                        response = try await next(request)
                    }
                } catch {
                    instruments.fail(call, error)
                    throw error
                }
                instruments.succeed(call)
                return response
            }
        }
    }
}

/// The pre-resolved metric handles, tracer and logger of one instrumented endpoint, and the
/// non-generic parts of a call: its start (``begin()``) and its end (``succeed(_:)``, ``fail(_:_:)``).
@usableFromInline
final class EndpointInstruments: Sendable {
    /// A call under way.
    @usableFromInline
    struct Call {
        /// When the call started, on the monotonic clock, in nanoseconds.
        let start: Int64
        /// The call's span.
        let span: KiteSpan
        /// The context to run the endpoint in: `nil` when the span kept its parent's context.
        @usableFromInline let context: ServiceContext?
    }

    let name: String
    let tracer: KiteTracer
    let logger: Logger
    /// The success line's unchanging fields (`outcome=success` among them), encoded once, and
    /// where the line goes — when the logger's handler is Kite's and writes the line whole by
    /// itself: the line is then handed to the sink as its values (time, duration, trace IDs),
    /// without swift-log's per-call metadata dictionary and event, and encoded by the sink's writer.
    let lineTemplate: LogLineTemplate?
    let options: InstrumentationOptions
    let requests: MetricFamily<Counter>
    let durations: MetricFamily<Histogram>
    let successes: Counter
    let successDurations: Histogram
    let businessErrorDurations: Histogram
    let failureDurations: Histogram
    let inFlight: Gauge
    private let callCount = Atomic<UInt64>(0)

    @usableFromInline
    init(name: String, telemetry: Telemetry, options: InstrumentationOptions) {
        self.name = name
        self.tracer = telemetry.tracer
        var logger = telemetry.logger
        logger[metadataKey: "endpoint"] = "\(name)"  // set once, not built into every call's metadata
        self.logger = logger
        if let handler = logger.handler as? KiteLogHandler,
            handler.writesWholeLines(withFieldKeys: ["outcome", "duration_seconds"])
        {
            // `source` is what swift-log derives from this file's `#fileID`.
            self.lineTemplate = handler.lineTemplate(
                level: options.logLevel,
                message: "endpoint call",
                source: "Kite",
                constantFields: ["outcome": "success"],
                secondsKey: "duration_seconds"
            )
        } else {
            self.lineTemplate = nil
        }
        self.options = options
        let registry = telemetry.registry
        self.requests = registry.counter(
            "kite_endpoint_requests_total",
            help: "Calls of an endpoint, by outcome and error type.",
            labelNames: ["endpoint", "outcome", "error_type"]
        )
        self.durations = registry.histogram(
            "kite_endpoint_request_duration_seconds",
            help: "Duration of endpoint calls in seconds.",
            labelNames: ["endpoint", "outcome"]
        )
        self.successes = self.requests.labels(name, "success", "")
        self.successDurations = self.durations.labels(name, "success")
        self.businessErrorDurations = self.durations.labels(name, CallOutcome.businessError.label)
        self.failureDurations = self.durations.labels(name, CallOutcome.failure.label)
        self.inFlight = registry.gauge(
            "kite_endpoint_in_flight",
            help: "Endpoint calls in progress.",
            labelNames: ["endpoint"]
        ).labels(name)
    }

    /// Starts a call: its clock, the in-flight gauge, its span (child of the task's current span),
    /// which starts at the wall-clock time of the call's monotonic start (``MonotonicClock``).
    @usableFromInline
    func begin() -> Call {
        let start = MonotonicClock.nanoseconds()
        self.inFlight.increment()
        let span = self.tracer.startSpan(
            self.name,
            context: ServiceContext.current ?? .topLevel,
            ofKind: self.options.spanKind,
            atMonotonic: start
        )
        return Call(start: start, span: span, context: span.inheritsContext ? nil : span.context)
    }

    /// Records a call that returned, and ends its span.
    ///
    /// The call is timed once, in whole nanoseconds of the monotonic clock (no `Duration`, whose
    /// 128-bit arithmetic each conversion paid): the span ends at its start plus that duration
    /// (so the span's duration is the one the histogram observes) and the line's `ts` is
    /// that same instant; the span started at the wall-clock time of the call's monotonic start.
    /// Two clock reads per call in all.
    @usableFromInline
    func succeed(_ call: Call) {
        let duration = Self.nanoseconds(since: call.start)
        let span = call.span
        let end = Self.endNanoseconds(of: span, after: duration)
        self.inFlight.decrement()
        self.successes.increment()
        self.successDurations.observe(Self.seconds(duration), for: span)
        if self.shouldLogSuccess() { self.logSuccess(call, duration, at: end) }
        if let end { span.end(atNanosecondsSinceEpoch: end) }
    }

    /// Records a call that threw `error`, and ends its span.
    @usableFromInline
    func fail(_ call: Call, _ error: any Error) {
        let duration = Self.nanoseconds(since: call.start)
        let span = call.span
        self.inFlight.decrement()
        defer {
            if let end = Self.endNanoseconds(of: span, after: duration) { span.end(atNanosecondsSinceEpoch: end) }
        }
        let outcome = CallOutcome(of: error)
        let errorType = String(describing: type(of: error))
        self.requests.labels(self.name, outcome.label, errorType).increment()
        span.recordError(error)
        span.setAttribute("error.type", errorType)
        let level: Logger.Level
        if outcome == .failure {
            self.failureDurations.observe(Self.seconds(duration), for: span)
            span.setStatus(SpanStatus(code: .error, message: String(describing: error)))
            level = self.options.errorLogLevel
        } else {
            self.businessErrorDurations.observe(Self.seconds(duration), for: span)
            level = self.options.logLevel
        }
        self.log(
            call,
            level: level,
            metadata: [
                "outcome": "\(outcome.label)",
                "duration_seconds": .string(SecondsText.string(nanoseconds: duration)),
                "error_type": "\(errorType)",
                "error": "\(error)",
            ]
        )
    }

    /// The call's line through swift-log, in the call's context: the end of a call runs after
    /// the endpoint returned, outside the task-local it ran in, and the handler (or a metadata
    /// provider) reads the span's IDs from the current context.
    private func log(_ call: Call, level: Logger.Level, metadata: Logger.Metadata) {
        guard let context = call.context else {
            self.logger.log(level: level, "endpoint call", metadata: metadata)
            return
        }
        ServiceContext.$current.withValue(context) {
            self.logger.log(level: level, "endpoint call", metadata: metadata)
        }
    }

    /// Nanoseconds from `start` (on the monotonic clock) to now.
    @inline(__always)
    private static func nanoseconds(since start: Int64) -> UInt64 {
        UInt64(clamping: MonotonicClock.nanoseconds() &- start)
    }

    /// `nanoseconds` in seconds, as the duration histograms observe them.
    @inline(__always)
    private static func seconds(_ nanoseconds: UInt64) -> Double {
        Double(nanoseconds) * 1e-9
    }

    /// When a span that records ends: its start plus `duration` nanoseconds; `nil` for a span
    /// that records nothing (it has no start, and ending it does nothing).
    @inline(__always)
    private static func endNanoseconds(of span: KiteSpan, after duration: UInt64) -> UInt64? {
        let start = span.startNanoseconds
        guard start != 0 else { return nil }
        return start &+ duration
    }

    /// The line of a successful call: handed to Kite's sink when the logger's handler is Kite's,
    /// otherwise through swift-log (the same fields either way).
    /// - Parameter end: When the call ended, if known (the span's end), for the line's `ts`.
    private func logSuccess(_ call: Call, _ duration: UInt64, at end: UInt64?) {
        guard self.lineTemplate != nil else {
            self.log(
                call,
                level: self.options.logLevel,
                metadata: ["outcome": "success", "duration_seconds": .string(SecondsText.string(nanoseconds: duration))]
            )
            return
        }
        // Called through the stored property rather than a local binding, which the compiler
        // retained and released around the call.
        self.lineTemplate?.write(timestamp: end, nanoseconds: duration, spanContext: call.span.spanContext)
    }

    private func shouldLogSuccess() -> Bool {
        switch self.options.logSampling {
        case .all: return true
        case .none: return false
        case .oneIn(let n):
            guard n > 1 else { return true }
            return self.callCount.wrappingAdd(1, ordering: .relaxed).oldValue % UInt64(n) == 0
        }
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double {
        let (seconds, attoseconds) = self.components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}
