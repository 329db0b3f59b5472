import Foundation
import KiteTelemetry
import KiteTestSupport
import Logging
import Testing
import Tracing

/// The value of one series (`name{labels}` exactly as rendered) in the registry, or `nil`.
func seriesValue(_ registry: MetricRegistry, _ series: String) -> Double? {
    let text = String(decoding: registry.render(format: .prometheusText), as: UTF8.self)
    for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.dropFirst(series.count + 1))
    }
    return nil
}

@Suite("OTLP export when the collector misbehaves", .enabled(if: Peers.isAvailable("python3")), .timeLimit(.minutes(2)))
struct OTLPFaultTests {
    /// Ends `count` spans named `name`.
    static func spans(_ telemetry: Telemetry, _ name: String, count: Int) {
        for _ in 0..<count { telemetry.tracer.startSpan(name).end() }
    }

    @Test("collector down at start: exports fail, are counted, logged once for the whole outage, and delivery starts when it comes up")
    func downAtStart() async throws {
        // A collector that was there and is gone: its port is known, nothing listens on it.
        let receiver = try await OTLPReceiver()
        try await receiver.stop()
        let (telemetry, output) = otlpTelemetry(receiver, ["OTEL_EXPORTER_OTLP_TIMEOUT": "600"])
        // Three exports fail in one outage.
        for count in [3, 2, 2] {
            Self.spans(telemetry, "lost", count: count)
            await telemetry.forceFlush()
        }
        #expect(seriesValue(telemetry.registry, "kite_span_exporter_failed_spans_total") == 7)
        #expect(seriesValue(telemetry.registry, "kite_span_exporter_exported_spans_total") == 0)
        // Connection refused: AsyncHTTPClient keeps trying to connect until the request's deadline.
        #expect((seriesValue(telemetry.registry, #"kite_otlp_exporter_requests_total{signal="traces",status="error"}"#) ?? 0) >= 3)
        // One warning for the outage, not one per export.
        #expect(output.lines.filter { $0.contains("OTLP export failed") && $0.contains("signal=traces") }.count == 1)

        try await receiver.restart()
        // The HTTP client backs off reconnecting after refusals: export until a batch gets through.
        var attempts = 0
        try await waitUntil("delivery to resume") {
            attempts += 1
            Self.spans(telemetry, "delivered", count: 1)
            await telemetry.forceFlush()
            return seriesValue(telemetry.registry, "kite_span_exporter_exported_spans_total") == 1
        }
        // An attempt that timed out (600 ms) may still have reached the collector, slow to
        // answer on a loaded machine: counted as failed here, it is there too.
        let received = try await receiver.waitFor("the delivered span") { !$0.spans.isEmpty }
        #expect(received.spans.allSatisfy { $0.name == "delivered" })
        #expect(received.spans.count <= attempts)
        #expect(seriesValue(telemetry.registry, "kite_span_exporter_failed_spans_total") == Double(7 + attempts - 1))
        #expect(output.lines.filter { $0.contains("OTLP export failed") && $0.contains("signal=traces") }.count == 1)
        #expect(output.lines.filter { $0.contains("OTLP export delivering again") && $0.contains("signal=traces") }.count == 1)
    }

    @Test("collector dying mid-run and coming back: what was sent before and after arrives, the gap is counted")
    func diesAndComesBack() async throws {
        let receiver = try await OTLPReceiver()
        // A timeout that ends the export into the stopped collector soon, but not so soon that a
        // delivered export whose answer is slow on a loaded machine counts as failed.
        let (telemetry, _) = otlpTelemetry(receiver, ["OTEL_EXPORTER_OTLP_TIMEOUT": "5000"])
        Self.spans(telemetry, "before", count: 4)
        await telemetry.forceFlush()
        try await receiver.waitFor("the first 4 spans") { $0.spans.count == 4 }

        try await receiver.stop()
        Self.spans(telemetry, "during", count: 5)
        await telemetry.forceFlush()
        #expect(seriesValue(telemetry.registry, "kite_span_exporter_failed_spans_total") == 5)

        try await receiver.restart()
        Self.spans(telemetry, "after", count: 6)
        await telemetry.forceFlush()
        let received = try await receiver.waitFor("the last 6 spans") { $0.spans.count == 6 }
        #expect(received.spans.allSatisfy { $0.name == "after" })
        #expect(seriesValue(telemetry.registry, "kite_span_exporter_exported_spans_total") == 10)
    }

    @Test("503 with Retry-After: the exporter waits as told, then delivers; nothing is lost")
    func retryAfter() async throws {
        let receiver = try await OTLPReceiver()
        let (telemetry, _) = otlpTelemetry(receiver)
        try await receiver.control(#"{"status": 503, "retry_after": 1, "count": 1}"#)
        Self.spans(telemetry, "retried", count: 8)
        await telemetry.forceFlush()
        let received = try await receiver.waitFor("8 spans") { $0.spans.count == 8 }
        let attempts = received.requests.filter { $0.path == "/v1/traces" }
        #expect(attempts.map(\.status) == [503, 200])
        if attempts.count == 2 { #expect(attempts[1].time - attempts[0].time >= 0.95) }
        #expect(seriesValue(telemetry.registry, #"kite_otlp_exporter_retries_total{signal="traces"}"#) == 1)
        #expect(seriesValue(telemetry.registry, "kite_span_exporter_exported_spans_total") == 8)
        #expect(seriesValue(telemetry.registry, "kite_span_exporter_failed_spans_total") == 0)
    }

    @Test("400: not retried, the batch is counted as failed, the next one goes through")
    func badRequest() async throws {
        let receiver = try await OTLPReceiver()
        let (telemetry, output) = otlpTelemetry(receiver)
        try await receiver.control(#"{"status": 400, "count": 1}"#)
        Self.spans(telemetry, "refused", count: 2)
        await telemetry.forceFlush()
        Self.spans(telemetry, "accepted", count: 3)
        await telemetry.forceFlush()
        let received = try await receiver.waitFor("3 spans") { $0.spans.count == 3 }
        #expect(received.requests.filter { $0.path == "/v1/traces" }.map(\.status) == [400, 200])
        #expect(received.spans.allSatisfy { $0.name == "accepted" })
        #expect(seriesValue(telemetry.registry, "kite_span_exporter_failed_spans_total") == 2)
        #expect(seriesValue(telemetry.registry, #"kite_otlp_exporter_retries_total{signal="traces"}"#) == 0)
        #expect(output.lines.contains { $0.contains("OTLP export failed") && $0.contains("HTTP 400: collector says no") })
    }

    @Test("partial success is logged and counted; configured headers are sent")
    func partialSuccess() async throws {
        let receiver = try await OTLPReceiver()
        let (telemetry, output) = otlpTelemetry(receiver, ["OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20s3cret"])
        try await receiver.control(#"{"partial_rejected": 2, "partial_message": "spans too old"}"#)
        Self.spans(telemetry, "partly", count: 5)
        await telemetry.forceFlush()
        let received = try await receiver.waitFor("5 spans") { $0.spans.count == 5 }
        #expect(received.requests.first?.authorization == "Bearer s3cret")
        #expect(seriesValue(telemetry.registry, #"kite_otlp_exporter_rejected_total{signal="traces"}"#) == 2)
        #expect(output.lines.contains { $0.contains("rejected part of an export") && $0.contains("spans too old") && $0.contains("rejected=2") })
    }

    @Test("a collector that hangs never blocks span ends: the queue stays bounded, drops the oldest, and every span is accounted for")
    func hangingCollector() async throws {
        let receiver = try await OTLPReceiver()
        let (telemetry, _) = otlpTelemetry(receiver, [
            "OTEL_BSP_MAX_QUEUE_SIZE": "100",
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "10",
            "OTEL_BSP_SCHEDULE_DELAY": "10",
            "OTEL_METRICS_EXPORTER": "none",
        ])
        try await receiver.control(#"{"hang": true}"#)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await telemetry.run() }
            Self.spans(telemetry, "first", count: 10)
            try await waitUntil("the collector to hold the first export") { try await receiver.held() == 1 }
            // The exporter is stuck in that request. Ending spans must not wait for it: these
            // 5,000 ends finish while the request is still held.
            Self.spans(telemetry, "burst", count: 5000)
            #expect(try await receiver.held() == 1)
            #expect(seriesValue(telemetry.registry, "kite_span_processor_dropped_spans_total") == 4900)
            try await receiver.release()
            try await receiver.waitFor("the held batch and the newest 100") { $0.spans.count == 110 }
            // The collector has them; the exporter counts each batch once it reads the answer.
            // Stopping before that would cancel a delivered export (and count it failed).
            try await waitUntil("the exporter to count what was delivered") {
                seriesValue(telemetry.registry, "kite_span_exporter_exported_spans_total") == 110
            }
            group.cancelAll()
        }
        let received = try await receiver.received()
        #expect(received.spans.filter { $0.name == "first" }.count == 10)
        #expect(received.spans.filter { $0.name == "burst" }.count == 100)
        #expect(seriesValue(telemetry.registry, "kite_span_exporter_exported_spans_total") == 110)
        #expect(seriesValue(telemetry.registry, "kite_span_exporter_failed_spans_total") == 0)
    }

    @Test("429, 502 and 504 are retried with a backoff when no Retry-After is sent; nothing is lost", arguments: [429, 502, 504])
    func retriedStatuses(status: Int) async throws {
        let receiver = try await OTLPReceiver()
        let (telemetry, _) = otlpTelemetry(receiver, ["OTEL_METRICS_EXPORTER": "none"])
        try await receiver.control(#"{"status": \#(status), "count": 2}"#)
        Self.spans(telemetry, "retried", count: 4)
        await telemetry.forceFlush()
        let received = try await receiver.waitFor("4 spans") { $0.spans.count == 4 }
        let attempts = received.requests.filter { $0.path == "/v1/traces" }
        #expect(attempts.map(\.status) == [status, status, 200])
        // The default backoff: 125–250 ms before the first retry, 250–500 ms before the second.
        if attempts.count == 3 {
            #expect(attempts[1].time - attempts[0].time >= 0.12)
            #expect(attempts[2].time - attempts[1].time >= 0.24)
        }
        #expect(seriesValue(telemetry.registry, #"kite_otlp_exporter_retries_total{signal="traces"}"#) == 2)
        // The exporter counts the batch once it reads the collector's answer, which on a loaded
        // machine can come after the receiver has recorded the spans (a CI run saw 0 here).
        try await waitUntil("the exporter to count what was delivered") {
            seriesValue(telemetry.registry, "kite_span_exporter_exported_spans_total") == 4
        }
    }

    @Test("Retry-After: 0 still waits the backoff: a collector cannot make the exporter spin")
    func retryAfterZero() async throws {
        let receiver = try await OTLPReceiver()
        let (telemetry, _) = otlpTelemetry(receiver, ["OTEL_METRICS_EXPORTER": "none"])
        try await receiver.control(#"{"status": 503, "retry_after": 0, "count": 1}"#)
        Self.spans(telemetry, "retried", count: 2)
        await telemetry.forceFlush()
        let received = try await receiver.waitFor("2 spans") { $0.spans.count == 2 }
        let attempts = received.requests.filter { $0.path == "/v1/traces" }
        #expect(attempts.map(\.status) == [503, 200])
        if attempts.count == 2 { #expect(attempts[1].time - attempts[0].time >= 0.12) }
    }

    @Test("a 2xx reply over 1 MiB is a delivery: counted once, not retried, not sent twice")
    func largeSuccessReply() async throws {
        let receiver = try await OTLPReceiver()
        let (telemetry, output) = otlpTelemetry(receiver, ["OTEL_METRICS_EXPORTER": "none"])
        try await receiver.control(#"{"status": 200, "body_bytes": 2000000, "count": 1}"#)
        Self.spans(telemetry, "big-reply", count: 3)
        await telemetry.forceFlush()
        Self.spans(telemetry, "next", count: 1)
        await telemetry.forceFlush()
        let received = try await receiver.waitFor("the next span") { $0.spans.count == 1 }
        #expect(received.requests.filter { $0.path == "/v1/traces" }.map(\.status) == [200, 200])
        #expect(seriesValue(telemetry.registry, "kite_span_exporter_exported_spans_total") == 4)
        #expect(seriesValue(telemetry.registry, "kite_span_exporter_failed_spans_total") == 0)
        #expect(seriesValue(telemetry.registry, #"kite_otlp_exporter_retries_total{signal="traces"}"#) == 0)
        #expect(!output.lines.contains { $0.contains("OTLP export failed") })
    }

    /// Which timeout is the shorter when a request hangs.
    enum ShorterTimeout: String, CaseIterable, CustomTestStringConvertible {
        /// The destination's (`OTEL_EXPORTER_OTLP_TIMEOUT`).
        case exporter
        /// The batch processor's (`OTEL_BSP_EXPORT_TIMEOUT`, `OTEL_BLRP_EXPORT_TIMEOUT`), which the
        /// OTLP exporters keep to themselves: the processor runs no timer of its own beside them.
        case processor

        var testDescription: String { self.rawValue }

        /// The settings that make this one ``hungExportTimeout`` and the other a minute.
        var environment: [String: String] {
            let shorter = String(OTLPFaultTests.hungExportTimeout.components.seconds * 1000)
            return switch self {
            case .exporter: ["OTEL_EXPORTER_OTLP_TIMEOUT": shorter]
            case .processor:
                ["OTEL_EXPORTER_OTLP_TIMEOUT": "60000", "OTEL_BSP_EXPORT_TIMEOUT": shorter, "OTEL_BLRP_EXPORT_TIMEOUT": shorter]
            }
        }
    }

    /// The shorter timeout of the hung-export tests. The export after the hang must fit in it
    /// too, on a 2-core machine loaded by the whole suite: at 500 ms it sometimes did not, and at
    /// 2 s once did not either (2026-11-28, a machine about twice as slow).
    static let hungExportTimeout = Duration.seconds(5)

    /// Flushes `telemetry`, whose export hangs, and expects the flush to end at
    /// ``hungExportTimeout``: not before it, and well before the other timeout, a minute long.
    static func expectFlushEndsAtTimeout(_ telemetry: Telemetry, sourceLocation: SourceLocation = #_sourceLocation) async {
        let clock = ContinuousClock()
        let started = clock.now
        await telemetry.forceFlush()
        let elapsed = clock.now - started
        let timeout = Self.hungExportTimeout
        #expect(elapsed >= timeout - .milliseconds(50) && elapsed < timeout * 4, "\(elapsed)", sourceLocation: sourceLocation)
    }

    @Test(
        "a hung request ends at the export timeout, the shorter of the exporter's and the processor's; the batch is counted as failed and the next one goes through",
        arguments: ShorterTimeout.allCases
    )
    func hungRequestTimesOut(shorter: ShorterTimeout) async throws {
        let receiver = try await OTLPReceiver()
        var environment = shorter.environment
        environment["OTEL_METRICS_EXPORTER"] = "none"
        let (telemetry, output) = otlpTelemetry(receiver, environment)
        try await receiver.control(#"{"hang": true}"#)
        Self.spans(telemetry, "held", count: 2)
        await Self.expectFlushEndsAtTimeout(telemetry)
        #expect(seriesValue(telemetry.registry, "kite_span_exporter_failed_spans_total") == 2)
        try await receiver.release()
        Self.spans(telemetry, "after", count: 1)
        await telemetry.forceFlush()
        #expect(seriesValue(telemetry.registry, "kite_span_exporter_exported_spans_total") == 1, "\(Self.exportLines(output))")
    }

    /// What the exporters logged, for a failed expectation's message.
    static func exportLines(_ output: InMemoryLogOutput) -> [String] {
        output.lines.filter { $0.contains("OTLP") }
    }

    @Test("a hung log export ends at the log processor's export timeout; the batch is counted as failed and the next one goes through")
    func hungLogExportTimesOut() async throws {
        let receiver = try await OTLPReceiver()
        var environment = ShorterTimeout.processor.environment
        environment["OTEL_METRICS_EXPORTER"] = "none"
        environment["OTEL_TRACES_EXPORTER"] = "none"
        environment["OTEL_LOGS_EXPORTER"] = "otlp"
        let (telemetry, output) = otlpTelemetry(receiver, environment)
        try await receiver.control(#"{"hang": true}"#)
        telemetry.logger.error("held")
        telemetry.logger.error("held too")
        await Self.expectFlushEndsAtTimeout(telemetry)
        #expect(seriesValue(telemetry.registry, "kite_log_record_exporter_failed_records_total") == 2)
        try await receiver.release()
        telemetry.logger.error("after")
        await telemetry.forceFlush()
        #expect(seriesValue(telemetry.registry, "kite_log_record_exporter_exported_records_total") == 1, "\(Self.exportLines(output))")
        try await receiver.waitFor("the record logged after") { $0.logs.contains { $0.body == .string("after") } }
    }

    @Test("a destination that cannot be sent to (a header name with a space, set in code) fails at once, logged once, never retried")
    func unusableDestinationIsNotRetried() async throws {
        let receiver = try await OTLPReceiver()
        var configuration = TelemetryConfiguration(serviceName: "otlp-test", environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_METRICS_EXPORTER": "none",
        ])
        configuration.otlp.traces.headers = [(name: "api key", value: "abc")]
        let output = InMemoryLogOutput()
        configuration.logOutput = output
        configuration.processMetrics = false
        let telemetry = Telemetry(configuration: configuration)
        // No retries and no waiting: the retry counter stays at zero (a wall-clock bound here
        // would only measure how loaded the machine is).
        for _ in 0..<3 {
            Self.spans(telemetry, "never", count: 2)
            await telemetry.forceFlush()
        }
        #expect(seriesValue(telemetry.registry, "kite_span_exporter_failed_spans_total") == 6)
        #expect(seriesValue(telemetry.registry, #"kite_otlp_exporter_retries_total{signal="traces"}"#) == 0)
        #expect(try await receiver.received().requests.isEmpty)
        #expect(output.lines.filter { $0.contains("OTLP destination cannot be used") && $0.contains("api key") }.count == 1)
    }
}
