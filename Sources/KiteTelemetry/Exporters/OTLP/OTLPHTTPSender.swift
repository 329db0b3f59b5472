import AsyncHTTPClient
import CompressNIO
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// POSTs encoded OTLP requests of one signal to the collector, retrying what can be retried.
///
/// - Body `application/x-protobuf`, gzip-compressed when configured.
/// - Retries on 429, 502, 503, 504 and connection errors, after `Retry-After` (seconds) when the
///   collector sends it — but never sooner than the ``OTLPExporterConfiguration/RetryPolicy``
///   backoff, so `Retry-After: 0` cannot make it spin — otherwise after the backoff, while the
///   destination's timeout allows. (A refused connection is such an error: each attempt is
///   counted, and the next one waits the backoff. Over `https://`, AsyncHTTPClient itself keeps
///   trying to connect until the attempt's deadline.) Any other status fails at once: a 400 will
///   not get better by sending the same bytes again.
/// - What no retry can fix is never retried: a destination whose URL or headers cannot be sent
///   (logged once when the sender is made, every export then fails at once), and the client's
///   errors about the request itself.
/// - Any 2xx is a delivery. A partial success (read from the first 1 MiB of the reply; a longer
///   reply is drained, not parsed) logs the collector's message and counts the rejected items.
/// - Failures are logged when the collector becomes unreachable and again when it is back, not
///   once per request; every attempt is counted in `kite_otlp_exporter_requests_total{signal,status}`.
///
/// Requests to an `http://` destination go through Kite's own ``OTLPHTTPConnection`` (one
/// keep-alive connection on one of the process's shared event loops); `https://` goes through
/// ``AsyncHTTPClient/HTTPClient/kiteExporter`` (AsyncHTTPClient's shared configuration with its
/// tracing off), for TLS.
final class OTLPHTTPSender: Sendable {
    let signal: OTLPExporterConfiguration.Signal
    let destination: OTLPExporterConfiguration.Destination
    let retry: OTLPExporterConfiguration.RetryPolicy
    private let transport: any OTLPHTTPTransport
    private let logger: Logger
    private let headers: HTTPHeaders
    private let requests: MetricFamily<Counter>
    private let rejected: Counter
    private let sentBytes: Counter
    private let retries: Counter
    /// Whether the last export failed (so the next failure is not logged again).
    private let failing = Atomic<Bool>(false)
    /// Why the destination cannot be sent to at all, if it cannot.
    private let misconfiguration: String?

    /// Why a request was not delivered.
    struct DeliveryError: Error, CustomStringConvertible {
        var description: String
    }

    init(
        signal: OTLPExporterConfiguration.Signal,
        configuration: OTLPExporterConfiguration,
        registry: MetricRegistry,
        logger: Logger
    ) {
        self.signal = signal
        self.destination = configuration[signal]
        self.retry = configuration.retry
        self.transport = makeOTLPHTTPTransport(url: self.destination.url)
        self.logger = logger
        var headers = HTTPHeaders()
        for header in self.destination.headers { headers.add(name: header.name, value: header.value) }
        headers.replaceOrAdd(name: "Content-Type", value: "application/x-protobuf")
        headers.replaceOrAdd(name: "User-Agent", value: "kite-otlp/\(OTLPResource.kiteVersion)")
        if self.destination.compression == .gzip {
            headers.replaceOrAdd(name: "Content-Encoding", value: "gzip")
        }
        self.headers = headers
        self.misconfiguration = Self.problem(with: self.destination)
        if let problem = self.misconfiguration {
            logger.error(
                "OTLP destination cannot be used; this signal is not exported",
                metadata: ["signal": "\(signal.rawValue)", "url": "\(self.destination.url)", "reason": "\(problem)"]
            )
        }
        self.requests = registry.counter(
            "kite_otlp_exporter_requests_total",
            help: "OTLP export requests (every attempt), by signal and HTTP status (error: no response).",
            labelNames: ["signal", "status"]
        )
        self.rejected = registry.counter(
            "kite_otlp_exporter_rejected_total",
            help: "Items (spans, data points, log records) the collector rejected in a partial success.",
            labelNames: ["signal"]
        ).labels(signal.rawValue)
        self.sentBytes = registry.counter(
            "kite_otlp_exporter_sent_bytes_total",
            help: "OTLP request body bytes sent (after compression), by signal.",
            labelNames: ["signal"]
        ).labels(signal.rawValue)
        self.retries = registry.counter(
            "kite_otlp_exporter_retries_total",
            help: "OTLP export requests sent again after a retryable failure, by signal.",
            labelNames: ["signal"]
        ).labels(signal.rawValue)
    }

    /// Sends one encoded request; throws ``DeliveryError`` (or `CancellationError`) when it was
    /// not delivered within the destination's timeout, or within `limit` when that is shorter
    /// (a batch processor's export timeout).
    func send(_ body: ByteBuffer, within limit: Duration? = nil) async throws {
        if let problem = self.misconfiguration { throw DeliveryError(description: problem) }
        var buffer = body
        if self.destination.compression == .gzip {
            buffer = try buffer.compress(with: .gzip())
        }
        let timeout = min(self.destination.timeout, limit ?? self.destination.timeout)
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var attempt = 0
        while true {
            let remaining = deadline - clock.now
            let outcome = await self.attempt(buffer, within: remaining)
            let wait: Duration
            switch outcome {
            case .delivered:
                if self.failing.exchange(false, ordering: .relaxed) {
                    self.logger.info("OTLP export delivering again", metadata: ["signal": "\(self.signal.rawValue)"])
                }
                return
            case .failed(let reason):
                throw self.failure(reason)
            case .retryable(let reason, let retryAfter):
                wait = max(retryAfter ?? .zero, self.backoff(attempt: attempt))
                guard clock.now + wait < deadline else {
                    throw self.failure("\(reason); no time left to retry within \(timeout)")
                }
            }
            try await Task.sleep(for: wait)
            attempt += 1
            self.retries.increment()
        }
    }

    private enum Outcome {
        case delivered
        case retryable(String, retryAfter: Duration?)
        case failed(String)
    }

    private func attempt(_ body: ByteBuffer, within remaining: Duration) async -> Outcome {
        let reply: OTLPHTTPReply
        do {
            reply = try await self.transport.post(body, headers: self.headers, timeout: remaining)
        } catch {
            self.requests.labels(self.signal.rawValue, "error").increment()
            if let client = error as? HTTPClientError, Self.permanentClientErrors.contains(client) {
                return .failed("\(error)")
            }
            return .retryable("\(error)", retryAfter: nil)
        }
        let status = reply.status
        self.requests.labels(self.signal.rawValue, String(status)).increment()
        switch status {
        case 200..<300:
            self.sentBytes.increment(by: body.readableBytes)
            if reply.body.readableBytes <= Self.maxResponseBytes,
               let partial = OTLPPartialSuccess(responseBody: Array(reply.body.readableBytesView))
            {
                self.rejected.increment(by: Int(clamping: partial.rejected))
                self.logger.warning(
                    "OTLP collector rejected part of an export",
                    metadata: ["signal": "\(self.signal.rawValue)", "rejected": "\(partial.rejected)", "reason": "\(partial.message)"]
                )
            }
            return .delivered
        case 429, 502, 503, 504:
            let retryAfter = reply.retryAfter
                .flatMap { Int($0.trimmingOWS()) }
                .map { Duration.seconds(min(max($0, 0), EnvironmentReader.maxMilliseconds / 1000)) }
            return .retryable("HTTP \(status)", retryAfter: retryAfter)
        default:
            let text = String(decoding: reply.body.readableBytesView.prefix(256), as: UTF8.self)
            return .failed("HTTP \(status)\(text.isEmpty ? "" : ": \(text)")")
        }
    }

    /// The most reply bytes read for a partial success (what a transport keeps).
    private static var maxResponseBytes: Int { OTLPHTTPReply.maxKeptBodyBytes }

    /// Errors of the HTTP client about the request itself: sending it again cannot help.
    private static let permanentClientErrors: [HTTPClientError] = [
        .invalidURL, .emptyHost, .emptyScheme, .missingSocketPath, .traceRequestWithBody,
    ]

    /// Why `destination` cannot be sent to, or `nil`.
    private static func problem(with destination: OTLPExporterConfiguration.Destination) -> String? {
        if let problem = OTLPExporterConfiguration.problem(withURL: destination.url) {
            return "the URL is not \(problem)"
        }
        if let header = destination.headers.first(where: { !OTLPExporterConfiguration.isHeaderName($0.name[...]) }) {
            return "header name \"\(header.name)\" is not a valid HTTP field name"
        }
        if let header = destination.headers.first(where: { !OTLPExporterConfiguration.isHeaderValue($0.value) }) {
            return "the value of header \(header.name) holds control characters"
        }
        return nil
    }

    /// A random time between half and all of `initialBackoff × 2^attempt`, capped at `maxBackoff`.
    private func backoff(attempt: Int) -> Duration {
        let ceiling = min(self.retry.initialBackoff * (1 << min(attempt, 20)), self.retry.maxBackoff)
        return ceiling * Double.random(in: 0.5...1.0)
    }

    /// Logs the first failure of a run of failures and returns the error to throw.
    private func failure(_ reason: String) -> DeliveryError {
        if !self.failing.exchange(true, ordering: .relaxed) {
            self.logger.warning(
                "OTLP export failed; data is dropped and counted until the collector answers",
                metadata: ["signal": "\(self.signal.rawValue)", "url": "\(self.destination.url)", "reason": "\(reason)"]
            )
        }
        return DeliveryError(description: reason)
    }
}

extension Duration {
    /// The duration in nanoseconds, clamped to what an `Int64` holds.
    package var clampedNanoseconds: Int64 {
        let (seconds, attoseconds) = self.components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return seconds < 0 ? .min : .max }
        let (total, overflow2) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        return overflow2 ? (seconds < 0 ? .min : .max) : total
    }
}
