import AsyncHTTPClient
import Kite
import KiteTelemetry
import NIOCore
import Tracing

/// Runs each outgoing HTTP call in a client span whose context travels in the headers, and
/// records `http.client.request.duration`.
///
/// Per call: a span named after the method (OpenTelemetry's HTTP client convention) with
/// `http.request.method`, `server.address`, `server.port`, `url.full`,
/// `http.response.status_code` and `error.type`; its status is error when the call failed
/// (``CallOutcome/failure``: no answer, a 5xx) — a business error the server answered with is an
/// answer, not an error. The metric is
/// `http_client_request_duration_seconds{http_request_method, server_address, http_response_status_code, error_type}`.
struct HTTPClientInstrumentation: Sendable {
    let tracer: KiteTracer
    let durations: MetricFamily<Histogram>

    init(telemetry: Telemetry) {
        self.tracer = telemetry.tracer
        self.durations = telemetry.registry.histogram(
            "http_client_request_duration_seconds",
            help: "Duration of HTTP client requests (OpenTelemetry http.client.request.duration).",
            labelNames: ["http_request_method", "server_address", "http_response_status_code", "error_type"]
        )
    }

    /// The pre-resolved names and success series of one client endpoint.
    struct Route: Sendable {
        let method: String
        let url: String
        let serverAddress: String
        let serverPort: Int?
        let okDurations: Histogram
        let durations: MetricFamily<Histogram>

        func durations(status: Int?, errorType: String) -> Histogram {
            if status == 200, errorType.isEmpty { return self.okDurations }
            return self.durations.labels([self.method, self.serverAddress, status.map(String.init) ?? "", errorType])
        }
    }

    func route(method: String, url: String) -> Route {
        let (address, port) = Self.server(of: url)
        return Route(
            method: method,
            url: url,
            serverAddress: address,
            serverPort: port,
            okDurations: self.durations.labels([method, address, "200", ""]),
            durations: self.durations
        )
    }

    /// The host and port of `url` (`http://host:port/path`), without Foundation.
    static func server(of url: String) -> (String, Int?) {
        var rest = Substring(url)
        if let scheme = rest.firstRange(of: "://") { rest = rest[scheme.upperBound...] }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        let hostPort = authority.split(separator: "@").last ?? authority
        if hostPort.hasPrefix("["), let close = hostPort.firstIndex(of: "]") {
            let host = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
            let after = hostPort[hostPort.index(after: close)...]
            return (String(host), after.hasPrefix(":") ? Int(after.dropFirst()) : nil)
        }
        if let colon = hostPort.lastIndex(of: ":") {
            return (String(hostPort[..<colon]), Int(hostPort[hostPort.index(after: colon)...]))
        }
        return (String(hostPort), nil)
    }

    /// Makes one call. `body` gets the request with trace headers, and the time it may take;
    /// it returns the answer's status with the decoded result. Errors it throws pass through;
    /// the span and metric record them.
    func call<Response>(
        _ route: Route,
        request: HTTPClientRequest,
        options: HTTPClientOptions,
        body: (HTTPClientRequest, Duration) async throws -> (Int, Response),
        bodySize: () -> Int
    ) async throws -> Response {
        let start = ContinuousClock.now
        let parent = ServiceContext.current ?? .topLevel
        let span = self.tracer.startSpan(route.method, context: parent, ofKind: .client)
        if span.isRecording {
            span.setAttribute("http.request.method", route.method)
            span.setAttribute("server.address", route.serverAddress)
            if let port = route.serverPort { span.setAttribute("server.port", port) }
            span.setAttribute("url.full", route.url)
        }
        var status: Int?
        var thrown: (any Error)?
        defer {
            let errorType = Self.errorType(status: status, thrown: thrown)
            if span.isRecording {
                if let status { span.setAttribute("http.response.status_code", status) }
                if !errorType.isEmpty { span.setAttribute("error.type", errorType) }
                if let thrown, CallOutcome(of: thrown) == .failure {
                    span.recordError(thrown)
                    span.setStatus(SpanStatus(code: .error))
                }
            }
            span.end()
            let duration = start.duration(to: .now)
            route.durations(status: status, errorType: errorType).observe(duration, for: span)
            if !options.finalizer.isEmpty {
                let summary = HTTPClientCallSummary(
                    method: route.method,
                    url: route.url,
                    status: status,
                    duration: duration,
                    responseBodySize: bodySize(),
                    error: thrown
                )
                for finalizer in options.finalizer { finalizer(summary) }
            }
        }
        do {
            var request = request
            self.tracer.inject(span.context, into: &request.headers, using: HTTPHeadersInjector())
            for before in options.before {
                before(&request)
            }
            let timeout = CallDeadline.timeout(in: parent, fallback: options.timeout) ?? options.timeout
            guard timeout > .zero else {
                throw RemoteError(code: .deadlineExceeded, message: "the deadline passed before the call was made")
            }
            let (answered, response) = try await body(request, timeout)
            status = answered
            return response
        } catch let error as HTTPClientCallFailure {
            status = error.status
            thrown = error.error
            throw error.error
        } catch {
            let mapped = Self.transportError(error)
            thrown = mapped
            throw mapped
        }
    }

    /// `error.type` as OpenTelemetry's HTTP conventions give it: the status of an error answer;
    /// the code of a call that got no answer (`UNAVAILABLE`, `DEADLINE_EXCEEDED`); the error's
    /// type otherwise; empty for a success.
    static func errorType(status: Int?, thrown: (any Error)?) -> String {
        if let status, status >= 400 { return String(status) }
        guard let thrown else { return "" }
        if let remote = thrown as? RemoteError { return remote.code.name }
        return String(describing: type(of: thrown))
    }

    /// A failure of the call itself as Kite's error model says it: timeouts `DEADLINE_EXCEEDED`,
    /// a call the caller cancelled `CANCELLED`, anything else that kept an answer from arriving
    /// `UNAVAILABLE`; Kite's own errors as they are.
    static func transportError(_ error: any Error) -> any Error {
        switch error {
        case is any ServiceError, is CancellationError:
            return error
        case let error as HTTPClientError
        where [.deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout].contains(error):
            return RemoteError(code: .deadlineExceeded, message: "\(error)")
        case let error as HTTPClientError where error == .cancelled:
            return RemoteError(code: .cancelled, message: "\(error)")
        default:
            return RemoteError(code: .unavailable, message: "\(error)")
        }
    }
}

/// An answer that is an error: its status and the error the caller gets.
struct HTTPClientCallFailure: Error {
    let status: Int
    let error: any Error
}
