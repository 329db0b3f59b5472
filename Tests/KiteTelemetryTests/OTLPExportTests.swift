import Foundation
import KiteTelemetry
import KiteTestSupport
import Logging
import Testing
import Tracing
import W3CTraceContext

/// A pipeline exporting to `receiver` (traces, metrics and logs over OTLP), logging into memory.
func otlpTelemetry(_ receiver: OTLPReceiver, _ environment: [String: String] = [:]) -> (Telemetry, InMemoryLogOutput) {
    otlpTelemetry(endpoint: receiver.endpoint, environment)
}

/// A pipeline exporting to the collector at `endpoint`, logging into memory.
func otlpTelemetry(endpoint: String, _ environment: [String: String] = [:]) -> (Telemetry, InMemoryLogOutput) {
    var variables = [
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_RESOURCE_ATTRIBUTES": "service.version=1.2.3,deployment.environment.name=test%20env",
    ]
    variables.merge(environment) { $1 }
    var configuration = TelemetryConfiguration(serviceName: "otlp-test", environment: variables)
    let output = InMemoryLogOutput()
    configuration.logOutput = output
    configuration.processMetrics = false
    return (Telemetry(configuration: configuration), output)
}

@Suite("OTLP export, decoded by the upstream definitions", .enabled(if: Peers.isAvailable("python3")))
struct OTLPExportTests {
    @Test("spans: ids, parents, kinds, attributes of every type, events, links, status, resource")
    func spans() async throws {
        let receiver = try await OTLPReceiver()
        let (telemetry, _) = otlpTelemetry(receiver)
        let tracer = telemetry.tracer

        let other = tracer.startSpan("other")
        other.end()
        let server = tracer.startSpan("checkout", ofKind: .server)
        server.attributes["text"] = "käse 🧀"
        server.attributes["empty"] = ""
        server.attributes["int"] = 42
        server.attributes["negative"] = SpanAttribute.int64(-7)
        server.attributes["int32"] = SpanAttribute.int32(32)
        server.attributes["double"] = 1.5
        server.attributes["yes"] = true
        server.attributes["no"] = false
        server.attributes["strings"] = SpanAttribute.stringArray(["a", "b"])
        server.attributes["ints"] = SpanAttribute.int64Array([1, -2])
        server.attributes["doubles"] = SpanAttribute.doubleArray([0.25])
        server.attributes["bools"] = SpanAttribute.boolArray([true, false])
        // Lengths that take two varint bytes, a ten-byte varint, an empty key.
        let longKey = String(repeating: "k", count: 130)
        let longText = String(repeating: "ü", count: 100)
        server.setAttribute(longKey, longText)
        server.setAttribute("", "no key")
        server.setAttribute("big", 1 << 40)
        server.setAttribute("min", Int.min)
        server.setAttribute("convertible", .stringConvertible(1.25))
        server.addEvent(SpanEvent(name: "cache miss", attributes: ["key": "user:1"]))
        // The first event is kept inline, the others in an array: all three arrive, in order.
        server.addEvent("retry")
        server.addEvent(SpanEvent(name: "done", attributes: ["attempts": 2]))
        let client = tracer.startSpan("db query", context: server.context, ofKind: .client)
        client.addLink(SpanLink(context: other.context, attributes: ["why": "batch"]))
        client.setStatus(SpanStatus(code: .error, message: "timed out"))
        // Only strings, integers, doubles and Booleans set one by one: the encoded attributes
        // go out as they were kept, in one copy.
        client.setAttribute("db.system", "postgresql")
        client.setAttribute("db.rows", 3)
        client.setAttribute("db.rows", 300)  // replaced by a longer encoding
        client.setAttribute("db.cached", false)
        client.setAttribute("db.seconds", 0.25)
        client.end()
        for kind in [SpanKind.producer, .consumer, .internal] {
            tracer.startSpan("kind", context: server.context, ofKind: kind).end()
        }
        server.end()
        await telemetry.forceFlush()

        let received = try await receiver.waitFor("6 spans") { $0.spans.count == 6 }
        let byName = Dictionary(grouping: received.spans, by: \.name)
        let checkout = try #require(byName["checkout"]?.first)
        let query = try #require(byName["db query"]?.first)

        #expect(checkout.traceId == "\(server.spanContext.traceID)")
        #expect(checkout.spanId == "\(server.spanContext.spanID)")
        #expect(checkout.parentSpanId == "")
        #expect(checkout.kind == 2)
        #expect(checkout.flags & 0xFF == 1)
        #expect(checkout.end >= checkout.start && checkout.start > 1_700_000_000_000_000_000)
        #expect(checkout.attributes["text"] == .string("käse 🧀"))
        #expect(checkout.attributes["empty"] == .string(""))
        #expect(checkout.attributes["int"] == .int(42))
        #expect(checkout.attributes["negative"] == .int(-7))
        #expect(checkout.attributes["int32"] == .int(32))
        #expect(checkout.attributes["double"] == .double(1.5))
        #expect(checkout.attributes["yes"] == .bool(true))
        #expect(checkout.attributes["no"] == .bool(false))
        #expect(checkout.attributes["strings"] == .array([.string("a"), .string("b")]))
        #expect(checkout.attributes["ints"] == .array([.int(1), .int(-2)]))
        #expect(checkout.attributes["doubles"] == .array([.double(0.25)]))
        #expect(checkout.attributes["bools"] == .array([.bool(true), .bool(false)]))
        #expect(checkout.attributes[longKey] == .string(longText))
        #expect(checkout.attributes[""] == .string("no key"))
        #expect(checkout.attributes["big"] == .int(Int64(1) << 40))
        #expect(checkout.attributes["min"] == .int(Int64.min))
        #expect(checkout.attributes["convertible"] == .string("1.25"))
        #expect(checkout.events.map(\.name) == ["cache miss", "retry", "done"])
        #expect(checkout.events.first?.attributes["key"] == .string("user:1"))
        #expect(checkout.events.last?.attributes["attempts"] == .int(2))
        #expect(checkout.events.map(\.time) == checkout.events.map(\.time).sorted())
        #expect(checkout.status.code == 0)

        #expect(query.traceId == checkout.traceId)
        #expect(query.parentSpanId == checkout.spanId)
        #expect(query.kind == 3)
        #expect(query.status.code == 2 && query.status.message == "timed out")
        #expect(query.attributes == ["db.system": .string("postgresql"), "db.rows": .int(300), "db.cached": .bool(false), "db.seconds": .double(0.25)])
        #expect(query.links.count == 1)
        #expect(query.links.first?.spanId == "\(other.spanContext.spanID)")
        #expect(query.links.first?.traceId == "\(other.spanContext.traceID)")
        #expect(query.links.first?.attributes["why"] == .string("batch"))
        #expect(Set(byName["kind"]?.map(\.kind) ?? []) == [1, 4, 5])

        #expect(checkout.resource["service.name"] == "otlp-test")
        #expect(checkout.resource["service.version"] == "1.2.3")
        #expect(checkout.resource["deployment.environment.name"] == "test env")
        #expect(checkout.resource["telemetry.sdk.name"] == "kite")
        #expect(checkout.resource["telemetry.sdk.language"] == "swift")
        #expect(checkout.resource["telemetry.sdk.version"] == OTLPResource.kiteVersion)
        #expect(checkout.scope.name == "kite")
        let request = try #require(received.requests.first { $0.path == "/v1/traces" })
        #expect(request.contentType == "application/x-protobuf")
        #expect(request.userAgent.hasPrefix("kite-otlp/"))
    }

    @Test("span limits cut long values at a character boundary, drop extra attributes, and count both")
    func spanLimits() async throws {
        let receiver = try await OTLPReceiver()
        let (telemetry, _) = otlpTelemetry(receiver, [
            "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT": "5",
            "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "2",
            "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT": "1",
            "OTEL_SPAN_EVENT_COUNT_LIMIT": "1",
            "OTEL_SPAN_LINK_COUNT_LIMIT": "1",
            "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT": "2",
        ])
        // Two attributes (within the count limit): both kept, both cut.
        let cut = telemetry.tracer.startSpan("cut")
        cut.attributes["a"] = "abcdefgh"
        cut.attributes["b"] = "ab🧀"  // 6 bytes: cutting at 5 would split the emoji
        cut.end()
        // Three attributes and two events: one attribute, one event and two event attributes go.
        let span = telemetry.tracer.startSpan("limited")
        span.attributes["x"] = 1
        span.attributes["y"] = 2
        span.attributes["z"] = 3
        span.addEvent(SpanEvent(name: "kept", attributes: ["x": 1, "y": 2, "z": 3]))
        span.addEvent(SpanEvent(name: "dropped"))
        // Two links: the second goes, and the first keeps two of its three attributes.
        let linked = telemetry.tracer.startSpan("linked")
        linked.end()
        span.addLink(SpanLink(context: linked.context, attributes: ["p": 1, "q": 2, "r": 3]))
        span.addLink(SpanLink(context: linked.context, attributes: [:]))
        span.end()
        await telemetry.forceFlush()

        let received = try await receiver.waitFor("three spans") { $0.spans.count == 3 }
        let shortened = try #require(received.spans.first { $0.name == "cut" })
        #expect(shortened.attributes == ["a": .string("abcde"), "b": .string("ab")])
        #expect(shortened.droppedAttributes == 0)
        let exported = try #require(received.spans.first { $0.name == "limited" })
        #expect(exported.attributes.count == 2)
        #expect(exported.droppedAttributes == 1)
        #expect(exported.events.map(\.name) == ["kept"])
        #expect(exported.droppedEvents == 1)
        #expect(exported.events.first?.attributes.count == 1)
        #expect(exported.events.first?.droppedAttributes == 2)
        #expect(exported.links.count == 1)
        #expect(exported.droppedLinks == 1)
        #expect(exported.links.first?.spanId == "\(linked.spanContext.spanID)")
        #expect(exported.links.first?.attributes.count == 2)
        #expect(exported.links.first?.droppedAttributes == 1)
        let metrics = String(decoding: telemetry.registry.render(format: .prometheusText), as: UTF8.self)
        #expect(metrics.contains(#"kite_span_limit_applied_total{action="dropped_attribute"} 3"#), "two event attributes and one link attribute")
        #expect(metrics.contains(#"kite_span_limit_applied_total{action="truncated_value"} 2"#))
    }

    @Test("a value cut to nothing (limit 0, or a cut inside the first character) decodes as \"\" with the upstream definitions")
    func valueCutToNothing() async throws {
        for (limit, expected) in [("0", ["ascii": "", "accent": "", "empty": ""]), ("1", ["ascii": "a", "accent": "", "empty": ""])] {
            let receiver = try await OTLPReceiver()
            let (telemetry, _) = otlpTelemetry(receiver, ["OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT": limit])
            let span = telemetry.tracer.startSpan("cut")
            span.attributes["ascii"] = "abc"
            span.attributes["accent"] = "\u{E9}t\u{E9}"  // é is two bytes: a 1-byte cut splits it
            span.attributes["empty"] = ""
            span.attributes["list"] = ["xyz", "\u{E9}"] as [String]
            span.end()
            await telemetry.forceFlush()
            let received = try await receiver.waitFor("the span") { $0.spans.count == 1 }
            let attributes = try #require(received.spans.first?.attributes)
            for (key, value) in expected {
                #expect(attributes[key] == .string(value), "limit \(limit), \(key): \(String(describing: attributes[key]))")
            }
            #expect(attributes["list"] == .array([.string(limit == "0" ? "" : "x"), .string("")]), "limit \(limit)")
        }
    }

    @Test("metrics: sums, gauges and histograms with explicit bounds, labels as attributes, cumulative")
    func metrics() async throws {
        let receiver = try await OTLPReceiver()
        let (telemetry, _) = otlpTelemetry(receiver)
        let registry = telemetry.registry
        let hostile = "eu \"west\"\n,=|#"
        registry.counter("orders_total", help: "Orders placed.", labelNames: ["region"]).labels(hostile).increment(by: 3)
        registry.gauge("queue_depth", help: "Jobs waiting.").labels().set(-4.5)
        let latency = registry.histogram("latency_seconds", help: "Latency.", buckets: HistogramBuckets([0.1, 1])).labels()
        for value in [0.05, 0.05, 0.05, 0.5, 5] { latency.observe(value) }
        await telemetry.forceFlush()

        let received = try await receiver.waitFor("the metrics") { $0.metrics.contains { $0.name == "latency_seconds" } }
        let byName = Dictionary(grouping: received.metrics, by: \.name)
        let orders = try #require(byName["orders"]?.first)
        #expect(orders.type == "sum")
        #expect(orders.monotonic == true)
        #expect(orders.temporality == 2)
        #expect(orders.description == "Orders placed.")
        #expect(orders.points.count == 1)
        #expect(orders.points.first?.attributes == ["region": hostile])
        #expect(orders.points.first?.value == 3)
        let start = try #require(orders.points.first?.start)
        #expect(start > 0 && start <= orders.points.first?.time ?? 0)

        let depth = try #require(byName["queue_depth"]?.first)
        #expect(depth.type == "gauge")
        #expect(depth.points.first?.value == -4.5)

        let histogram = try #require(byName["latency_seconds"]?.first)
        #expect(histogram.type == "histogram")
        #expect(histogram.temporality == 2)
        let point = try #require(histogram.points.first)
        #expect(point.explicitBounds == [0.1, 1])
        #expect(point.bucketCounts == [3, 1, 1])
        #expect(point.count == 5)
        #expect(point.hasSum == true)
        #expect(abs((point.sum ?? 0) - 5.65) < 1e-9)
        #expect(histogram.resource["service.name"] == "otlp-test")
    }

    @Test("exemplars: a histogram point carries the trace and span of the observations made in sampled spans, which arrive as spans too")
    func exemplars() async throws {
        let receiver = try await OTLPReceiver()
        let (telemetry, _) = otlpTelemetry(receiver, ["OTEL_BSP_SCHEDULE_DELAY": "100"])
        let latency = telemetry.registry.histogram("exemplar_seconds", help: "Latency.", buckets: HistogramBuckets([0.1, 1])).labels()
        latency.observe(0.5)  // outside any span: no exemplar
        let ids = telemetry.tracer.withSpan("traced") { span -> (String, String) in
            latency.observe(0.05)
            let context = span.context.spanContext
            return (context?.traceID.description ?? "", context?.spanID.description ?? "")
        }
        await telemetry.forceFlush()

        let received = try await receiver.waitFor("the histogram and the span") { received in
            received.metrics.contains { $0.name == "exemplar_seconds" } && received.spans.contains { $0.name == "traced" }
        }
        let point = try #require(received.metrics.first { $0.name == "exemplar_seconds" }?.points.first)
        let exemplars = try #require(point.exemplars)
        #expect(exemplars.count == 1)
        let exemplar = try #require(exemplars.first)
        #expect(exemplar.traceId == ids.0 && exemplar.spanId == ids.1)
        #expect(exemplar.value == 0.05)
        // The time is the kernel tick's: up to a few milliseconds behind the exporter's clock.
        #expect(exemplar.time + 10_000_000 >= point.start && exemplar.time <= point.time)
        let span = try #require(received.spans.first { $0.name == "traced" })
        #expect(span.traceId == exemplar.traceId && span.spanId == exemplar.spanId)
    }

    @Test("delta temporality, gzip: each export holds the change since the last delivered one")
    func deltaTemporality() async throws {
        let receiver = try await OTLPReceiver()
        let (telemetry, _) = otlpTelemetry(receiver, [
            "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "delta",
            "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
        ])
        let orders = telemetry.registry.counter("orders_total", help: "Orders.").labels()
        orders.increment(by: 5)
        await telemetry.forceFlush()
        orders.increment(by: 2)
        try await receiver.control(#"{"status": 400, "count": 1}"#)
        await telemetry.forceFlush()  // refused: the 2 travel with the next export
        orders.increment(by: 1)
        await telemetry.forceFlush()
        await telemetry.forceFlush()  // `orders` did not change: the request leaves it out

        let received = try await receiver.received()
        let values = received.metrics.filter { $0.name == "orders" }.flatMap { $0.points.map(\.value) }
        #expect(values == [5, 3])
        #expect(received.metrics.filter { $0.name == "orders" }.allSatisfy { $0.temporality == 1 })
        let points = received.metrics.filter { $0.name == "orders" }.flatMap(\.points)
        if points.count == 2 { #expect(points[1].start == points[0].time) }
        let metricRequests = received.requests.filter { $0.path == "/v1/metrics" }
        #expect(metricRequests.map(\.status) == [200, 400, 200, 200])
        #expect(metricRequests.allSatisfy { $0.contentEncoding == "gzip" })
        // The refused request's points are counted as failed, the delivered ones as exported.
        let refusedPoints = try #require(metricRequests.first { $0.status == 400 }?.points)
        let deliveredPoints = metricRequests.filter { $0.status == 200 }.compactMap(\.points).reduce(0, +)
        #expect(refusedPoints > 0)
        #expect(seriesValue(telemetry.registry, "kite_metric_exporter_failed_points_total") == Double(refusedPoints))
        #expect(seriesValue(telemetry.registry, "kite_metric_exporter_exported_points_total") == Double(deliveredPoints))
    }

    @Test("logs: body, severity, metadata, source and the trace they were logged in")
    func logs() async throws {
        let receiver = try await OTLPReceiver()
        let (telemetry, output) = otlpTelemetry(receiver, ["OTEL_LOGS_EXPORTER": "otlp,console", "KITE_LOG_LEVEL": "debug"])
        let logger = telemetry.logger
        let span = telemetry.tracer.startSpan("request")
        ServiceContext.$current.withValue(span.context) {
            logger.warning(
                "payment declined",
                metadata: ["user": "alice", "card": ["brand": "visa"], "tries": ["1", "2"]]
            )
        }
        logger.debug("outside")
        span.end()
        await telemetry.forceFlush()

        let received = try await receiver.waitFor("2 log records") { $0.logs.count == 2 }
        let declined = try #require(received.logs.first { $0.body == .string("payment declined") })
        #expect(declined.severityNumber == 13)
        #expect(declined.severityText == "warning")
        #expect(declined.traceId == "\(span.spanContext.traceID)")
        #expect(declined.spanId == "\(span.spanContext.spanID)")
        #expect(declined.flags == 1)
        #expect(declined.attributes["user"] == .string("alice"))
        #expect(declined.attributes["card"] == .kvlist(["brand": .string("visa")]))
        #expect(declined.attributes["tries"] == .array([.string("1"), .string("2")]))
        #expect(declined.attributes["log.logger"] == .string("otlp-test"))
        #expect(declined.attributes["code.line.number"]?.int ?? 0 > 0)
        #expect(declined.time > 0 && declined.observedTime == declined.time)
        #expect(declined.resource["service.name"] == "otlp-test")
        let outside = try #require(received.logs.first { $0.body == .string("outside") })
        #expect(outside.severityNumber == 5)
        #expect(outside.traceId == "")
        // `console` is listed too: the lines are still written.
        #expect(output.lines.contains { $0.contains(#"msg="payment declined""#) })
    }

    @Test("the same payloads decode with protoc --decode against Tests/Peers/otlp.proto", .enabled(if: Peers.isAvailable("protoc")))
    func protocDecode() async throws {
        let protoc = try Peers.require("protoc")
        let receiver = try await OTLPReceiver()
        let (telemetry, _) = otlpTelemetry(receiver, ["OTEL_LOGS_EXPORTER": "otlp"])
        let span = telemetry.tracer.startSpan("protoc check", ofKind: .server)
        span.attributes["answer"] = 42
        span.end()
        telemetry.registry.histogram("size_bytes", help: "Sizes.", buckets: HistogramBuckets([10])).labels().observe(3)
        ServiceContext.$current.withValue(span.context) { telemetry.logger.error("it broke") }
        await telemetry.forceFlush()
        try await receiver.waitFor("all three signals") { !$0.spans.isEmpty && !$0.metrics.isEmpty && !$0.logs.isEmpty }

        let cases: [(signal: String, message: String, expected: [String])] = [
            ("traces", "ExportTraceServiceRequest", [#"name: "protoc check""#, "kind: SPAN_KIND_SERVER", "int_value: 42", #"string_value: "kite""#]),
            ("metrics", "ExportMetricsServiceRequest", [#"name: "size_bytes""#, "bucket_counts: 1", "explicit_bounds: 10", "AGGREGATION_TEMPORALITY_CUMULATIVE"]),
            ("logs", "ExportLogsServiceRequest", [#"string_value: "it broke""#, "SEVERITY_NUMBER_ERROR", "trace_id: "]),
        ]
        for (signal, message, expected) in cases {
            let bodies = try receiver.dumpedBodies(signal)
            #expect(!bodies.isEmpty, "no \(signal) body")
            for body in bodies {
                let result = try await runCommandAsync(
                    protoc,
                    ["--decode=otlp.\(message)", "-I", OTLPReceiver.peersDirectory.path, "otlp.proto"],
                    input: try Data(contentsOf: body)
                )
                #expect(result.status == 0, "\(result.standardError)")
                // protoc prints fields it cannot place by number (`17: 5`); there must be none.
                let unknown = result.standardOutput.split(separator: "\n").filter { $0.drop { $0 == " " }.first?.isNumber == true }
                #expect(unknown.isEmpty, "fields outside the schema: \(unknown)")
                for fragment in expected {
                    #expect(result.standardOutput.contains(fragment), "\(signal): \(fragment) not in\n\(result.standardOutput)")
                }
            }
        }
    }
}
