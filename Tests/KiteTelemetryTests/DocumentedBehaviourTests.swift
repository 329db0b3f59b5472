import Foundation
import KiteTelemetry
import KiteTestSupport
import Logging
import ServiceLifecycle
import Testing
import Tracing
import W3CTraceContext

/// Behaviour the README promises, each held by a test that fails when it breaks.
@Suite("Documented behaviour", .timeLimit(.minutes(2)))
struct DocumentedBehaviourTests {
    @Test("a status set to ok is final: a later error does not replace it")
    func okIsFinal() async throws {
        let (tracer, processor, exporter, _) = makeTracer()
        let span = tracer.startSpan("work")
        span.setStatus(SpanStatus(code: .ok))
        span.setStatus(SpanStatus(code: .error, message: "too late"))
        span.end()
        await processor.forceFlush()
        #expect(exporter.exportedSpans.first?.status == SpanStatus(code: .ok))
    }

    @Test("baggage: at most 180 members and 8,192 bytes are read; a member cut by the byte limit is dropped whole")
    func baggageLimits() throws {
        let many = (0..<200).map { "k\($0)=v" }.joined(separator: ",")
        #expect(W3CBaggagePropagator.parse(many).entries.count == 180)

        // 8,180 bytes of members, then one that the 8,192-byte cut goes through.
        let filler = "a=" + String(repeating: "x", count: 8177)
        let straddling = filler + ",long=" + String(repeating: "y", count: 50)
        let parsed = W3CBaggagePropagator.parse(straddling)
        #expect(parsed["a"]?.utf8.count == 8177)
        #expect(parsed["long"] == nil, "kept truncated: \(parsed["long"]?.count ?? 0) bytes")
        // A member that ends exactly at the limit is kept.
        let exact = filler + ",b=" + String(repeating: "z", count: 8192 - filler.utf8.count - 3)
        #expect(exact.utf8.count == 8192)
        #expect(W3CBaggagePropagator.parse(exact + ",c=1")["b"] != nil)
    }

    @Test(
        "traceidratio decides exactly as the OpenTelemetry Python SDK for the same trace ids",
        .enabled(if: Peers.isAvailable("python3"))
    )
    func traceIDRatioAgreesWithPython() async throws {
        try await OTLPReceiver.requirePython()
        let ids = IDGenerator()
        var traceIDs = (0..<2000).map { _ in ids.traceID().description }
        let ratios = [0.1, 0.25, 1.0 / 3.0, 0.5, 0.999]
        // Trace ids on both sides of each ratio's bound (the low 8 bytes = bound − 1, bound).
        for ratio in ratios {
            let bound = UInt64(ratio * 18_446_744_073_709_551_616.0)
            for low in [bound - 2, bound - 1, bound, bound + 1] {
                traceIDs.append("0123456789abcdef" + String(low, radix: 16).leftPadded(to: 16))
            }
        }
        let script = """
            import sys
            from opentelemetry.sdk.trace.sampling import TraceIdRatioBased, Decision
            ids = [int(line, 16) for line in sys.stdin.read().split()]
            for rate in [float(r) for r in sys.argv[1:]]:
                sampler = TraceIdRatioBased(rate)
                print("".join("1" if sampler.should_sample(None, i, "x").decision == Decision.RECORD_AND_SAMPLE else "0" for i in ids))
            """
        let result = try await runCommandAsync(
            try Peers.require("python3"),
            ["-c", script] + ratios.map { "\($0)" },
            input: Data(traceIDs.joined(separator: "\n").utf8)
        )
        #expect(result.status == 0, "\(result.standardError)")
        let pythonDecisions = result.standardOutput.split(separator: "\n").map(String.init)
        #expect(pythonDecisions.count == ratios.count)
        for (ratio, python) in zip(ratios, pythonDecisions) {
            let sampler = TraceIDRatioSampler(ratio: ratio)
            var kite = ""
            for hex in traceIDs {
                guard let id = TraceID(hex: hex) else {
                    kite.append("?")
                    continue
                }
                kite.append(sampler.shouldSample(traceID: id, parent: nil, name: "x", kind: .internal) == .recordAndSample ? "1" : "0")
            }
            let differing = zip(kite, python).filter { $0.0 != $0.1 }.count
            #expect(kite == python, "ratio \(ratio): \(differing) decisions differ")
            #expect(python.contains("1") && python.contains("0"))
        }
    }

    @Test("plain StatsD sends a histogram not named in seconds as |h")
    func statsdHistogramType() async throws {
        let agent = try DatagramReceiver()
        let registry = MetricRegistry()
        let sizes = registry.histogram("payload_bytes", help: "", buckets: HistogramBuckets([100, 1000])).labels()
        sizes.observe(50)
        sizes.observe(500)
        let exporter = StatsDExporter(configuration: .init(host: "127.0.0.1", port: agent.port), registry: registry, logger: Logger(label: "test"))
        await exporter.flush()
        let lines = await agent.receiveLines { $0.filter { $0.hasPrefix("payload_bytes") }.count >= 2 }.lines.filter { $0.hasPrefix("payload_bytes") }
        #expect(Set(lines) == ["payload_bytes:100|h", "payload_bytes:1000|h"], "\(lines)")
    }

    @Test("a StatsD line longer than a datagram is left out and counted once, not again on every flush")
    func statsdLineTooLong() async throws {
        let agent = try DatagramReceiver()
        let registry = MetricRegistry()
        registry.counter("long", help: "", labelNames: ["k"]).labels(String(repeating: "v", count: 100)).increment()
        let exporter = StatsDExporter(
            configuration: .init(host: "127.0.0.1", port: agent.port, maxPacketSize: 64),
            registry: registry,
            logger: Logger(label: "test")
        )
        await exporter.flush()
        await exporter.flush()
        #expect(seriesValue(registry, "kite_statsd_dropped_lines_total") == 1)
    }

    @Test("HEAD /metrics on the scrape listener answers the headers of a scrape and no body")
    func headMetrics() async throws {
        let registry = MetricRegistry()
        registry.counter("heads", help: "").labels().increment()
        let listener = try await PrometheusScrapeServer.bind(
            configuration: .init(host: "127.0.0.1", port: 0),
            handler: PrometheusScrapeHandler(registry: registry),
            logger: .init(label: "test")
        )
        defer { Task { try? await listener.close() } }
        let identity = ["Accept-Encoding": "identity"]
        let head = try await httpRequest("http://127.0.0.1:\(listener.port)/metrics", method: "HEAD", headers: identity)
        #expect(head.status == 200)
        #expect(head.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        #expect(head.body.isEmpty)
        let get = try await httpRequest("http://127.0.0.1:\(listener.port)/metrics", headers: identity)
        #expect(get.text.contains("heads_total 1"))
        #expect(head.headers["content-length"] == "\(get.body.count)", "HEAD announces the length a GET gets")
    }

    @Test(
        "the OTLP log record queue drops the oldest when full, and counts them",
        .enabled(if: Peers.isAvailable("python3"))
    )
    func logQueueDropsOldest() async throws {
        let receiver = try await OTLPReceiver()
        let (telemetry, _) = otlpTelemetry(receiver, [
            "OTEL_LOGS_EXPORTER": "otlp",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_BLRP_MAX_QUEUE_SIZE": "5",
            "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE": "5",
        ])
        for index in 0..<20 { telemetry.logger.info("record \(index)") }
        #expect(seriesValue(telemetry.registry, "kite_log_record_processor_dropped_records_total") == 15)
        await telemetry.forceFlush()
        let received = try await receiver.waitFor("5 log records") { $0.logs.count == 5 }
        #expect(received.logs.map(\.body) == (15..<20).map { .string("record \($0)") })
    }

    @Test(
        "graceful shutdown exports the last log records, metrics and spans over OTLP before returning",
        .enabled(if: Peers.isAvailable("python3"))
    )
    func shutdownExportsTheRest() async throws {
        let receiver = try await OTLPReceiver()
        // Nothing would be exported for a minute: only the shutdown can send these.
        let (telemetry, _) = otlpTelemetry(receiver, [
            "OTEL_LOGS_EXPORTER": "otlp",
            "OTEL_BLRP_SCHEDULE_DELAY": "60000",
            "OTEL_BSP_SCHEDULE_DELAY": "60000",
            "OTEL_METRIC_EXPORT_INTERVAL": "60000",
        ])
        let group = ServiceGroup(services: [telemetry], logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            telemetry.logger.info("last words")
            telemetry.registry.counter("farewells", help: "").labels().increment(by: 3)
            telemetry.tracer.startSpan("last span").end()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        // Everything arrived before `run` returned: no waiting here.
        let received = try await receiver.received()
        #expect(received.logs.contains { $0.body == .string("last words") })
        #expect(received.metrics.contains { $0.name == "farewells" && $0.points.first?.value == 3 })
        #expect(received.spans.contains { $0.name == "last span" })
    }
}

extension String {
    /// Zeros in front up to `length` characters.
    func leftPadded(to length: Int) -> String {
        String(repeating: "0", count: max(length - self.count, 0)) + self
    }
}
