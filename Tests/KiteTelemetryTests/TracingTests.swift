import Foundation
import Instrumentation
import KiteTelemetry
import ServiceLifecycle
import Synchronization
import Testing
import Tracing
import W3CTraceContext

/// Headers as a plain dictionary, for propagation tests.
struct DictionaryExtractor: Extractor {
    func extract(key: String, from carrier: [String: String]) -> String? {
        carrier.first { $0.key.lowercased() == key.lowercased() }?.value
    }
}

struct DictionaryInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
        carrier[key] = value
    }
}

func makeTracer(
    sampler: any Sampler = ParentBasedSampler(root: ConstantSampler.alwaysOn),
    propagators: [any TracePropagator] = [W3CTraceContextPropagator(), W3CBaggagePropagator()],
    queueSize: Int = 2048
) -> (KiteTracer, BatchSpanProcessor, InMemorySpanExporter, MetricRegistry) {
    let exporter = InMemorySpanExporter()
    let registry = MetricRegistry()
    let processor = BatchSpanProcessor(
        exporter: exporter,
        configuration: .init(maxQueueSize: queueSize, maxExportBatchSize: min(512, queueSize)),
        registry: registry
    )
    return (KiteTracer(sampler: sampler, processor: processor, propagators: propagators), processor, exporter, registry)
}

@Suite("Tracing")
struct TracingTests {
    let callerTraceID = "0af7651916cd43dd8448eb211c80319c"
    let callerSpanID = "b7ad6b7169203331"

    @Test("a traceparent round-trips through extract and inject")
    func traceparentRoundTrip() throws {
        let (tracer, _, _, _) = makeTracer()
        let header = "00-\(callerTraceID)-\(callerSpanID)-01"
        var context = ServiceContext.topLevel
        tracer.extract(["traceparent": header, "tracestate": "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"], into: &context, using: DictionaryExtractor())
        let extracted = try #require(context.spanContext)
        #expect(extracted.traceID.description == callerTraceID)
        #expect(extracted.spanID.description == callerSpanID)
        #expect(extracted.isSampled)
        #expect(extracted.isRemote)
        var headers: [String: String] = [:]
        tracer.inject(context, into: &headers, using: DictionaryInjector())
        #expect(headers["traceparent"] == header)
        #expect(headers["tracestate"] == "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
    }

    @Test(
        "a malformed traceparent is ignored and the span starts a new root trace",
        arguments: [
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",  // too short
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",  // too long
            "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",  // bad hex
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",  // all-zero trace id
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",  // all-zero span id
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  // version ff
            "00_0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331_01",  // wrong delimiters
            "",
            "\u{0}\u{1}💥",
        ]
    )
    func malformedTraceparent(header: String) {
        let (tracer, _, _, _) = makeTracer()
        var context = ServiceContext.topLevel
        tracer.extract(["traceparent": header], into: &context, using: DictionaryExtractor())
        #expect(context.spanContext == nil)
        let span = tracer.startSpan("root", context: context)
        #expect(span.spanContext.parentSpanID == nil)
        #expect(span.spanContext.traceID.description != callerTraceID)
        #expect(span.spanContext.traceID != TraceID.null)
        span.end()
    }

    @Test("a malformed tracestate is dropped and the traceparent kept")
    func malformedTracestate() throws {
        let (tracer, _, _, _) = makeTracer()
        var context = ServiceContext.topLevel
        tracer.extract(
            ["traceparent": "00-\(callerTraceID)-\(callerSpanID)-00", "tracestate": "=broken,,=="],
            into: &context,
            using: DictionaryExtractor()
        )
        let extracted = try #require(context.spanContext)
        #expect(extracted.traceID.description == callerTraceID)
        #expect(extracted.traceState.isEmpty)
        #expect(!extracted.isSampled)
    }

    @Test("a span under an extracted context has the caller's trace id and the caller's span as parent")
    func childOfExtractedContext() async throws {
        let (tracer, processor, exporter, _) = makeTracer()
        var context = ServiceContext.topLevel
        tracer.extract(["traceparent": "00-\(callerTraceID)-\(callerSpanID)-01"], into: &context, using: DictionaryExtractor())
        let server = tracer.startSpan("server", context: context, ofKind: .server)
        let child = tracer.startSpan("child", context: server.context)
        child.end()
        server.end()
        await processor.forceFlush()
        let spans = exporter.exportedSpans
        try #require(spans.count == 2)
        let exportedServer = try #require(spans.first { $0.name == "server" })
        let exportedChild = try #require(spans.first { $0.name == "child" })
        #expect(exportedServer.context.traceID.description == callerTraceID)
        #expect(exportedServer.context.parentSpanID?.description == callerSpanID)
        #expect(exportedServer.kind == .server)
        #expect(exportedChild.context.traceID.description == callerTraceID)
        #expect(exportedChild.context.parentSpanID == exportedServer.context.spanID)
    }

    @Test("the task's current context is the default parent (withSpan)")
    func taskLocalParent() async throws {
        let (tracer, processor, exporter, _) = makeTracer()
        tracer.withSpan("outer") { outer in
            tracer.withSpan("inner") { _ in }
            outer.attributes["k"] = "v"
        }
        await processor.forceFlush()
        let spans = exporter.exportedSpans
        let outer = try #require(spans.first { $0.name == "outer" })
        let inner = try #require(spans.first { $0.name == "inner" })
        #expect(inner.context.parentSpanID == outer.context.spanID)
        #expect(inner.context.traceID == outer.context.traceID)
        #expect(outer.attributes["k"]?.toSpanAttribute() == .string("v"))
    }

    @Test("attributes, events, links, status and recorded errors are exported")
    func spanContents() async throws {
        let (tracer, processor, exporter, _) = makeTracer()
        let linked = tracer.startSpan("linked")
        linked.end()
        struct Boom: Error {}
        let span = tracer.startSpan("work", ofKind: .client)
        span.attributes["s"] = "text"
        span.attributes["i"] = 42
        span.attributes["d"] = 1.5
        span.attributes["b"] = true
        span.attributes["a"] = ["x", "y"]
        span.addEvent(SpanEvent(name: "cache miss", attributes: ["key": "user:1"]))
        span.addLink(SpanLink(context: linked.context, attributes: ["why": "batch"]))
        span.recordError(Boom())
        span.setStatus(SpanStatus(code: .error, message: "failed"))
        span.end()
        span.attributes["after"] = "ignored"
        span.end()
        await processor.forceFlush()
        let record = try #require(exporter.exportedSpans.first { $0.name == "work" })
        #expect(exporter.exportedSpans.count == 2, "ending twice exports once")
        #expect(record.kind == .client)
        #expect(record.attributes.get("s") == .string("text"))
        #expect(record.attributes.get("i") == .int64(42))
        #expect(record.attributes.get("d") == .double(1.5))
        #expect(record.attributes.get("b") == .bool(true))
        #expect(record.attributes.get("a") == .stringArray(["x", "y"]))
        #expect(record.attributes.get("after") == nil)
        #expect(record.events.map(\.name) == ["cache miss", "exception"])
        #expect(record.events[1].attributes.get("exception.type") == .string(String(reflecting: Boom.self)))
        #expect(record.links.first?.context.spanID == linked.spanContext.spanID)
        #expect(record.status == SpanStatus(code: .error, message: "failed"))
        #expect(record.endNanoseconds >= record.startNanoseconds)
    }

    @Test("a record is the ended span: the span still reads what it recorded; changing a record changes neither the span nor other copies")
    func recordIsTheEndedSpan() async throws {
        let (tracer, processor, exporter, _) = makeTracer()
        let span = tracer.startSpan("work", ofKind: .server)
        span.setAttribute("route", "/sum")
        span.addEvent(SpanEvent(name: "retry"))
        span.end()
        span.setAttribute("late", "ignored")
        span.operationName = "renamed after the end"
        await processor.forceFlush()
        let record = try #require(exporter.exportedSpans.first)
        #expect(span.operationName == "work")
        #expect(span.attributes.get("route") == .string("/sum"))
        #expect(span.attributes.get("late") == nil)

        var changed = record
        changed.attributes["route"] = nil
        changed.attributes["redacted"] = true
        changed.name = "changed"
        #expect(changed.attributes.get("route") == nil && changed.attributes.get("redacted") == .bool(true))
        #expect(changed.name == "changed")
        #expect(changed.events.map(\.name) == ["retry"], "what was not changed is kept")
        #expect(changed.context == record.context && changed.kind == .server)
        #expect(changed.startNanoseconds == record.startNanoseconds && changed.endNanoseconds == record.endNanoseconds)
        #expect(record.name == "work" && record.attributes.get("route") == .string("/sum") && record.attributes.get("redacted") == nil)
        #expect(span.operationName == "work" && span.attributes.get("redacted") == nil)
        #expect(exporter.exportedSpans.first?.attributeList.count == 1)
    }

    @Test("span contexts compare and hash by value, trace state included; a child keeps its parent's trace state")
    func spanContextValues() throws {
        let (tracer, _, _, _) = makeTracer()
        var context = ServiceContext.topLevel
        let headers = ["traceparent": "00-\(callerTraceID)-\(callerSpanID)-01", "tracestate": "congo=t61rcWkgMzE"]
        tracer.extract(headers, into: &context, using: DictionaryExtractor())
        let extracted = try #require(context.spanContext)
        var same = SpanContext(traceID: extracted.traceID, spanID: extracted.spanID, flags: .sampled, isRemote: true)
        #expect(same != extracted, "the trace state differs")
        same.traceState = TraceState([(TraceState.Vendor(rawValue: "congo"), "t61rcWkgMzE")])
        #expect(same == extracted && same.hashValue == extracted.hashValue)
        same.traceState = TraceState()
        #expect(same.traceState.isEmpty && same != extracted)

        let child = tracer.startSpan("child", context: context)
        #expect(child.spanContext.traceState == extracted.traceState)
        var injected: [String: String] = [:]
        tracer.inject(child.context, into: &injected, using: DictionaryInjector())
        #expect(injected["tracestate"] == "congo=t61rcWkgMzE")
        child.end()
    }

    @Test("setAttribute and the protocol's attributes mix: the last write of a key wins, each key is exported once, in order")
    func attributesSetBothWays() async throws {
        let (tracer, processor, exporter, _) = makeTracer()
        let span = tracer.startSpan("mixed")
        span.setAttribute("first", "one")
        span.setAttribute("second", 2)
        span.attributes["third"] = true  // takes the list into the dictionary
        span.setAttribute("third", false)  // back out of the dictionary
        span.attributes["second"] = 22
        span.setAttribute("fourth", 4.5)
        span.setAttribute("first", "uno")
        span.attributes["gone"] = "soon"
        span.attributes["gone"] = nil
        #expect(span.attributes.get("second") == .int64(22))
        #expect(span.attributes.count == 4)
        span.end()
        span.setAttribute("after", "ignored")
        await processor.forceFlush()
        let record = try #require(exporter.exportedSpans.first)
        let keys = record.attributeList.keys
        #expect(keys.count == 4)
        #expect(Set(keys) == ["first", "second", "third", "fourth"])
        #expect(record.attributes.get("first") == .string("uno"))
        #expect(record.attributes.get("second") == .int64(22))
        #expect(record.attributes.get("third") == .bool(false))
        #expect(record.attributes.get("fourth") == .double(4.5))

        // Set one by one only: kept in the order first set, a replaced value in its first place.
        let ordered = tracer.startSpan("ordered")
        for key in ["c", "a", "b"] { ordered.setAttribute(key, key) }
        ordered.setAttribute("a", "again")
        ordered.end()
        await processor.forceFlush()
        let orderedRecord = try #require(exporter.exportedSpans.first { $0.name == "ordered" })
        #expect(orderedRecord.attributeList.keys == ["c", "a", "b"])
        #expect(orderedRecord.attributeList["a"] == .string("again"))
    }

    @Test("setAttribute stores strings, integers, Booleans and doubles as their toSpanAttribute() does, whichever overload is taken")
    func setAttributeValueTypes() async throws {
        let (tracer, processor, exporter, _) = makeTracer()
        let span = tracer.startSpan("typed")
        let (text, integer, flag, real) = ("POST", 8080, true, 0.25)
        span.setAttribute("string", text)
        span.setAttribute("int", integer)
        span.setAttribute("bool", flag)
        span.setAttribute("double", real)
        span.setAttribute("literal", 200)
        func generic<Value: SpanAttributeConvertible>(_ key: String, _ value: Value) { span.setAttribute(key, value) }
        generic("generic string", text)
        generic("generic int", integer)
        generic("generic bool", flag)
        generic("generic double", real)
        span.end()
        await processor.forceFlush()
        let record = try #require(exporter.exportedSpans.first)
        for (key, value) in [("string", text.toSpanAttribute()), ("int", integer.toSpanAttribute()), ("bool", flag.toSpanAttribute()), ("double", real.toSpanAttribute()), ("literal", 200.toSpanAttribute())] {
            #expect(record.attributeList[key] == value, "\(key)")
            if key != "literal" { #expect(record.attributeList["generic \(key)"] == value, "generic \(key)") }
        }
    }

    @Test("every kind of attribute value set one by one reads back exactly as set, in order, also after a replacement")
    func storedValuesRoundTrip() async throws {
        let (tracer, processor, exporter, _) = makeTracer()
        let values: [(String, SpanAttribute)] = [
            ("string", .string("käse")),
            ("int64", .int64(-7)),
            ("int32", .int32(32)),
            ("double", .double(1.5)),
            ("bool", .bool(false)),
            ("strings", .stringArray(["a", "b"])),
            ("int64s", .int64Array([1, -2])),
            ("int32s", .int32Array([3])),
            ("doubles", .doubleArray([0.25])),
            ("bools", .boolArray([true])),
            ("convertible", .stringConvertible(2.5)),
        ]
        let span = tracer.startSpan("values")
        span.setAttribute("int32", "to be replaced")
        for (key, value) in values { span.setAttribute(key, value) }
        #expect(span.attributes.get("int32") == .int32(32), "read while the span records")
        span.end()
        await processor.forceFlush()
        let record = try #require(exporter.exportedSpans.first)
        var seen: [(String, SpanAttribute)] = []
        record.attributeList.forEach { seen.append(($0, $1)) }
        #expect(seen.map(\.0) == ["int32"] + values.map(\.0).filter { $0 != "int32" }, "first-set order")
        for (key, value) in values {
            let read = try #require(record.attributeList[key], "\(key)")
            if case .stringConvertible = value {
                #expect(read.textValue == "2.5")
            } else {
                #expect(read == value, "\(key)")
            }
            #expect(seen.first { $0.0 == key }.map { $0.1.textValue } == value.textValue, "\(key) by forEach")
        }
        #expect(record.attributes.count == values.count)
    }

    @Test("setAttribute beyond the attribute limit drops new keys and counts them, but still replaces kept ones")
    func setAttributeLimit() async throws {
        let exporter = InMemorySpanExporter()
        let processor = BatchSpanProcessor(exporter: exporter, registry: MetricRegistry())
        let tracer = KiteTracer(processor: processor, limits: SpanLimits(maxAttributes: 3))
        let span = tracer.startSpan("limited")
        for index in 0..<5 { span.setAttribute("a\(index)", index) }
        span.setAttribute("a1", "replaced")
        span.end()
        // Through the protocol's dictionary the limit applies at the end (which keys stay is then
        // the dictionary's order).
        let both = tracer.startSpan("both ways")
        for index in 0..<3 { both.setAttribute("a\(index)", index) }
        both.attributes["p"] = "through the protocol"
        both.end()
        await processor.forceFlush()
        let record = try #require(exporter.exportedSpans.first { $0.name == "limited" })
        #expect(record.attributeList.keys == ["a0", "a1", "a2"])
        #expect(record.droppedAttributes == 2)
        #expect(record.attributes.get("a1") == .string("replaced"))
        let bothRecord = try #require(exporter.exportedSpans.first { $0.name == "both ways" })
        #expect(bothRecord.attributes.count == 3)
        #expect(bothRecord.droppedAttributes == 1)
    }

    @Test("a span's context carries the span: equal on every read, the parent of children, found while it records")
    func spanContextAndActiveSpan() async throws {
        let (tracer, processor, exporter, _) = makeTracer()
        let span = tracer.startSpan("parent")
        #expect(span.context.spanContext == span.spanContext)
        #expect(span.context.spanContext == span.context.spanContext)
        let child = tracer.startSpan("child", context: span.context)
        #expect(child.spanContext.parentSpanID == span.spanContext.spanID)
        #expect(child.spanContext.traceID == span.spanContext.traceID)
        let found = try #require(tracer.activeSpan(identifiedBy: child.context))
        found.addEvent("seen by a middleware")
        child.end()
        #expect(tracer.activeSpan(identifiedBy: child.context) == nil, "an ended span is no longer active")
        #expect(tracer.activeSpan(identifiedBy: span.context) != nil)
        span.end()
        await processor.forceFlush()
        let childRecord = try #require(exporter.exportedSpans.first { $0.name == "child" })
        #expect(childRecord.events.map(\.name) == ["seen by a middleware"])
        let unsampled = makeTracer(sampler: ConstantSampler.alwaysOff).0
        let dropped = unsampled.startSpan("dropped")
        #expect(unsampled.activeSpan(identifiedBy: dropped.context) == nil, "a span that records nothing is never active")
        dropped.end()
    }

    @Test("a span changed from many tasks at once keeps every change; one that records nothing keeps none")
    func concurrentChanges() async throws {
        let (tracer, processor, exporter, _) = makeTracer()
        let span = tracer.startSpan("shared")
        let unrecorded = makeTracer(sampler: ConstantSampler.alwaysOff).0.startSpan("dropped")
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for index in 0..<500 {
                        span.attributes["t\(task).\(index)"] = index
                        unrecorded.attributes["t\(task).\(index)"] = index
                        if index % 100 == 0 { span.addEvent(SpanEvent(name: "t\(task)")) }
                    }
                }
            }
        }
        #expect(unrecorded.attributes.count == 0)
        span.end()
        await processor.forceFlush()
        let record = try #require(exporter.exportedSpans.first)
        // Every change arrived: the default limit keeps 128 and counts the rest.
        #expect(record.attributes.count == 128)
        #expect(record.attributes.count + record.droppedAttributes == 4000)
        #expect(record.events.count == 40)
    }

    @Test("the console exporter writes one parsable line per span, a large batch in chunks; lines that do not fit are counted")
    func consoleExporter() async throws {
        let output = InMemoryLogOutput()
        let sink = LogSink(output: output)
        let exporter = ConsoleSpanExporter(sink: sink)
        let parent = SpanContext(traceID: IDGenerator().traceID(), spanID: IDGenerator().spanID(), flags: .sampled)
        let batch = (0..<2_000).map { index in
            SpanRecord(
                name: "op \(index)",
                kind: index.isMultiple(of: 2) ? .server : .client,
                context: SpanContext(traceID: parent.traceID, spanID: IDGenerator().spanID(), parentSpanID: parent.spanID, flags: .sampled),
                startNanoseconds: 1_000_000_000,
                endNanoseconds: 1_000_000_000 + UInt64(index) * 1000,
                attributes: ["http.response.status_code": .int64(200), "note": .string("a \"quoted\" value")]
            )
        }
        try await exporter.export(batch)
        sink.flush()
        let lines = output.lines
        #expect(lines.count == 2_000)
        for (index, line) in lines.enumerated() {
            let fields = Dictionary(try Logfmt.parse(line), uniquingKeysWith: { first, _ in first })
            #expect(fields["span"] == "op \(index)")
            #expect(fields["kind"] == (index.isMultiple(of: 2) ? "server" : "client"))
            #expect(fields["trace_id"] == "\(parent.traceID)" && fields["parent_id"] == "\(parent.spanID)")
            #expect(fields["duration"] == SecondsText.string(nanoseconds: UInt64(index) * 1000) + "s")
            #expect(fields["attr.http.response.status_code"] == "200" && fields["attr.note"] == #"a "quoted" value"#)
        }
        sink.shutdown()

        // A sink too small for a chunk drops it whole and counts every line in it: every line is
        // either written or counted.
        let smallOutput = InMemoryLogOutput()
        let small = LogSink(output: smallOutput, capacity: 4096)
        try await ConsoleSpanExporter(sink: small).export(Array(batch.prefix(200)))
        small.flush()
        #expect(small.droppedLines > 0)
        #expect(Int(small.droppedLines) + smallOutput.lines.count == 200)
        small.shutdown()
    }

    @Test("OTEL_TRACES_EXPORTER=console: each span's line is in the sink once the span has ended, and a full sink counts what it drops")
    func consoleProcessor() async throws {
        let output = InMemoryLogOutput()
        var configuration = TelemetryConfiguration(serviceName: "console", environment: ["OTEL_TRACES_EXPORTER": "console", "KITE_LOG_LEVEL": "error"])
        configuration.logOutput = output
        configuration.processMetrics = false
        let telemetry = Telemetry(configuration: configuration)
        let parent = telemetry.tracer.startSpan("parent", context: .topLevel, ofKind: .server)
        let child = telemetry.tracer.startSpan("child", context: parent.context)
        child.setAttribute("note", #"a "quoted" value"#)
        child.setAttribute("http.response.status_code", 200)
        child.end()
        parent.end()
        // The sink's flush, not the pipeline's: the lines were handed over as the spans ended
        // (through a batch processor they would still wait in its queue).
        telemetry.logSink.flush()
        let lines = output.lines.filter { $0.contains("span=") }
        try #require(lines.count == 2, "\(output.lines)")
        let fields = try lines.map { Dictionary(try Logfmt.parse($0), uniquingKeysWith: { first, _ in first }) }
        #expect(fields.map { $0["span"] } == ["child", "parent"])
        #expect(fields[0]["parent_id"] == fields[1]["span_id"] && fields[0]["trace_id"] == fields[1]["trace_id"])
        #expect(fields[0]["attr.note"] == #"a "quoted" value"# && fields[0]["attr.http.response.status_code"] == "200")
        #expect(fields[1]["kind"] == "server")
        await telemetry.shutdown()

        // Hostile keys and values, set one by one (written from the bytes the span keeps) and
        // through the dictionary, in both formats: each line parses back to them.
        for format in [LogFormat.logfmt, .json] {
            let hostileOutput = InMemoryLogOutput()
            let sink = LogSink(output: hostileOutput)
            let span = KiteTracer(processor: ConsoleSpanProcessor(sink: sink, format: format)).startSpan("hostile")
            span.setAttribute("a key=\"x\"", "line\nbreak \"quoted\" back\\slash tab\t日本語 🚀")
            span.setAttribute("ratio", 0.25)
            span.setAttribute("empty", "")
            span.attributes["through.the.dictionary"] = "d v"
            span.end()
            sink.flush()
            let line = try #require(hostileOutput.lines.first)
            #expect(hostileOutput.lines.count == 1)
            let fields: [String: String]
            switch format {
            case .logfmt: fields = Dictionary(try Logfmt.parse(line), uniquingKeysWith: { first, _ in first })
            case .json:
                let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                fields = object.compactMapValues { $0 as? String }
            }
            // logfmt keys lose what a key may not hold; JSON keys keep everything.
            let key = format == .logfmt ? "attr.a_key__x_" : #"attr.a key="x""#
            #expect(fields[key] == "line\nbreak \"quoted\" back\\slash tab\t日本語 🚀", "\(line)")
            #expect(fields["attr.ratio"] == "0.25" && fields["attr.empty"] == "" && fields["attr.through.the.dictionary"] == "d v", "\(line)")
            sink.shutdown()
        }

        // Straight into a sink too small for a line: dropped, and counted like a dropped log line.
        let small = LogSink(output: InMemoryLogOutput(), capacity: 16)
        let processor = ConsoleSpanProcessor(sink: small)
        KiteTracer(processor: processor).startSpan("too long for the sink").end()
        await processor.forceFlush()
        #expect(small.droppedLines == 1)
        small.shutdown()
    }

    @Test("span limits drop extra events and count them")
    func spanLimits() async throws {
        let exporter = InMemorySpanExporter()
        let processor = BatchSpanProcessor(exporter: exporter, registry: MetricRegistry())
        let tracer = KiteTracer(processor: processor, limits: SpanLimits(maxAttributes: 2, maxEvents: 3, maxLinks: 1))
        let span = tracer.startSpan("limited")
        for index in 0..<5 { span.addEvent(SpanEvent(name: "e\(index)")) }
        for index in 0..<4 { span.attributes["a\(index)"] = index }
        span.end()
        await processor.forceFlush()
        let record = try #require(exporter.exportedSpans.first)
        #expect(record.events.map(\.name) == ["e0", "e1", "e2"])
        #expect(record.droppedEvents == 2)
        #expect(record.attributes.count == 2)
    }

    @Test("always_off records nothing, but the context still propagates unsampled")
    func alwaysOff() async throws {
        let (tracer, processor, exporter, _) = makeTracer(sampler: ConstantSampler.alwaysOff)
        let span = tracer.startSpan("dropped")
        #expect(!span.isRecording)
        var headers: [String: String] = [:]
        tracer.inject(span.context, into: &headers, using: DictionaryInjector())
        #expect(headers["traceparent"]?.hasSuffix("-00") == true)
        span.end()
        await processor.forceFlush()
        #expect(exporter.exportedSpans.isEmpty)
    }

    @Test("inside an unsampled trace, a dropped span keeps its parent's context")
    func unsampledChildKeepsParentContext() throws {
        let (tracer, _, _, _) = makeTracer()
        var parent = ServiceContext.topLevel
        tracer.extract(["traceparent": "00-\(callerTraceID)-\(callerSpanID)-00"], into: &parent, using: DictionaryExtractor())
        let child = tracer.startSpan("child", context: parent)
        #expect(!child.isRecording)
        #expect(child.inheritsContext)
        #expect(child.context.spanContext == parent.spanContext)
        var headers: [String: String] = [:]
        tracer.inject(child.context, into: &headers, using: DictionaryInjector())
        #expect(headers["traceparent"] == "00-\(callerTraceID)-\(callerSpanID)-00")
        child.attributes["ignored"] = 1
        #expect(child.attributes.isEmpty)
        child.end()
    }

    @Test("samplers that drop every child of an unsampled parent say so; a sampler that records such children is still asked")
    func childrenOfUnsampledParents() async throws {
        #expect(ConstantSampler.alwaysOff.dropsChildrenOfUnsampledParents)
        #expect(!ConstantSampler.alwaysOn.dropsChildrenOfUnsampledParents)
        #expect(ParentBasedSampler(root: ConstantSampler.alwaysOn).dropsChildrenOfUnsampledParents)
        #expect(!ParentBasedSampler(root: ConstantSampler.alwaysOff, remoteParentNotSampled: ConstantSampler.alwaysOn).dropsChildrenOfUnsampledParents)
        #expect(!TraceIDRatioSampler(ratio: 1).dropsChildrenOfUnsampledParents)

        // Records the children of unsampled local parents (recordOnly: kept, not exported).
        struct RecordOnly: Sampler {
            func shouldSample(traceID: TraceID, parent: SpanContext?, name: String, kind: SpanKind) -> SamplingDecision { .recordOnly }
            var description: String { "RecordOnly" }
        }
        let recording = ParentBasedSampler(root: ConstantSampler.alwaysOff, localParentNotSampled: RecordOnly())
        let (tracer, _, _, _) = makeTracer(sampler: recording)
        let parent = tracer.startSpan("parent", context: .topLevel)
        #expect(!parent.spanContext.isSampled)
        let child = tracer.startSpan("child", context: parent.context)
        #expect(child.isRecording && !child.inheritsContext)
        #expect(child.spanContext.traceID == parent.spanContext.traceID && child.spanContext.spanID != parent.spanContext.spanID)
        child.end()
        parent.end()

        // The default drops them without asking: the child keeps its parent's context.
        let (defaultTracer, _, _, _) = makeTracer(sampler: ParentBasedSampler(root: ConstantSampler.alwaysOff))
        let unsampled = defaultTracer.startSpan("parent", context: .topLevel)
        let inner = defaultTracer.startSpan("child", context: unsampled.context)
        #expect(!inner.isRecording && inner.inheritsContext && inner.spanContext == unsampled.spanContext)
    }

    @Test("without a traces exporter spans record nothing, but sampling decisions still propagate")
    func noExporter() {
        var configuration = TelemetryConfiguration(serviceName: "t", environment: [:])
        configuration.scrapeListener = nil
        configuration.logOutput = InMemoryLogOutput()
        configuration.processMetrics = false
        let telemetry = Telemetry(configuration: configuration)
        let span = telemetry.tracer.startSpan("x")
        span.attributes["dropped"] = true
        #expect(!span.isRecording)
        #expect(span.attributes.isEmpty)
        #expect(span.spanContext.isSampled)
        var headers: [String: String] = [:]
        telemetry.tracer.inject(span.context, into: &headers, using: DictionaryInjector())
        #expect(headers["traceparent"]?.hasSuffix("-01") == true)
        span.end()
        #expect(telemetry.registry.render(format: .prometheusText).count > 0)
    }

    @Test("parentbased follows a remote parent's decision, whatever the root sampler says")
    func parentBased() throws {
        let (tracer, _, _, _) = makeTracer(sampler: ParentBasedSampler(root: ConstantSampler.alwaysOff))
        var sampledParent = ServiceContext.topLevel
        tracer.extract(["traceparent": "00-\(callerTraceID)-\(callerSpanID)-01"], into: &sampledParent, using: DictionaryExtractor())
        #expect(tracer.startSpan("a", context: sampledParent).spanContext.isSampled)
        var unsampledParent = ServiceContext.topLevel
        tracer.extract(["traceparent": "00-\(callerTraceID)-\(callerSpanID)-00"], into: &unsampledParent, using: DictionaryExtractor())
        #expect(!tracer.startSpan("b", context: unsampledParent).spanContext.isSampled)
        #expect(!tracer.startSpan("root").spanContext.isSampled)
    }

    @Test("traceidratio samples about the ratio, and decides the same for the same trace id")
    func traceIDRatio() {
        let sampler = TraceIDRatioSampler(ratio: 0.25)
        let ids = IDGenerator()
        var sampled = 0
        let count = 20_000
        for _ in 0..<count {
            let id = ids.traceID()
            let decision = sampler.shouldSample(traceID: id, parent: nil, name: "x", kind: .internal)
            #expect(decision == sampler.shouldSample(traceID: id, parent: nil, name: "y", kind: .server))
            if decision == .recordAndSample { sampled += 1 }
        }
        let fraction = Double(sampled) / Double(count)
        // 20,000 draws: the standard deviation is 0.003; 0.22…0.28 is ±10 of them.
        #expect(fraction > 0.22 && fraction < 0.28, "sampled \(fraction)")
        #expect(TraceIDRatioSampler(ratio: 0).shouldSample(traceID: ids.traceID(), parent: nil, name: "", kind: .internal) == .drop)
    }

    @Test("B3 single and multi headers are read and written")
    func b3() throws {
        let (tracer, _, _, _) = makeTracer(propagators: [B3Propagator(encoding: .multiple)])
        var single = ServiceContext.topLevel
        tracer.extract(["b3": "\(callerTraceID)-\(callerSpanID)-1-05e3ac9a4f6e3b90"], into: &single, using: DictionaryExtractor())
        #expect(single.spanContext?.traceID.description == callerTraceID)
        #expect(single.spanContext?.isSampled == true)

        var multi = ServiceContext.topLevel
        tracer.extract(
            ["X-B3-TraceId": "8448eb211c80319c", "X-B3-SpanId": callerSpanID, "X-B3-Sampled": "0"],
            into: &multi,
            using: DictionaryExtractor()
        )
        let extracted = try #require(multi.spanContext)
        #expect(extracted.traceID.description == "00000000000000008448eb211c80319c")
        #expect(!extracted.isSampled)

        var headers: [String: String] = [:]
        tracer.inject(single, into: &headers, using: DictionaryInjector())
        #expect(headers == ["X-B3-TraceId": callerTraceID, "X-B3-SpanId": callerSpanID, "X-B3-Sampled": "1"])

        var singleHeaders: [String: String] = [:]
        B3Propagator(encoding: .single).inject(single, into: &singleHeaders, using: DictionaryInjector())
        #expect(singleHeaders == ["b3": "\(callerTraceID)-\(callerSpanID)-1"])

        for broken in ["nonsense", "\(callerTraceID)-\(callerSpanID)-x", "0", "\(callerTraceID)", "0000000000000000-\(callerSpanID)-1"] {
            var context = ServiceContext.topLevel
            tracer.extract(["b3": broken], into: &context, using: DictionaryExtractor())
            #expect(context.spanContext == nil, "\(broken)")
        }
    }

    @Test("W3C baggage round-trips with percent-encoding; invalid members are skipped")
    func baggage() throws {
        let propagator = W3CBaggagePropagator()
        var context = ServiceContext.topLevel
        propagator.extract(
            ["baggage": "userId=alice, serverNode = DF%2028 ;prop=1, isProduction=false, bad key=x, =novalue, broken=%zz, emoji=%F0%9F%9A%80"],
            into: &context,
            using: DictionaryExtractor()
        )
        let baggage = try #require(context.baggage)
        #expect(baggage["userId"] == "alice")
        #expect(baggage["serverNode"] == "DF 28")
        #expect(baggage["isProduction"] == "false")
        #expect(baggage["emoji"] == "🚀")
        #expect(baggage.entries.count == 4)

        var headers: [String: String] = [:]
        propagator.inject(context, into: &headers, using: DictionaryInjector())
        var again = ServiceContext.topLevel
        propagator.extract(headers, into: &again, using: DictionaryExtractor())
        #expect(again.baggage == baggage)
        #expect(headers["baggage"]?.contains("serverNode=DF%2028;prop=1") == true)
    }

    @Test("the batch queue is bounded: the oldest spans are dropped and counted")
    func boundedQueue() async throws {
        let (tracer, processor, exporter, registry) = makeTracer(queueSize: 10)
        for index in 0..<15 {
            tracer.startSpan("s\(index)").end()
        }
        #expect(processor.queueLength == 10)
        await processor.forceFlush()
        #expect(exporter.exportedSpans.map(\.name) == (5..<15).map { "s\($0)" })
        let text = String(decoding: registry.render(format: .prometheusText), as: UTF8.self)
        #expect(text.contains("kite_span_processor_dropped_spans_total 5\n"))
        #expect(text.contains("kite_span_exporter_exported_spans_total 10\n"))
    }

    @Test("a queue holding more than a batch, wrapped after drops, is exported in batches of the batch size, oldest first, each span once")
    func severalBatches() async throws {
        final class Batches: SpanExporter {
            let names = Mutex<[[String]]>([])
            func export(_ batch: [SpanRecord]) async throws { self.names.withLock { $0.append(batch.map(\.name)) } }
        }
        let exporter = Batches()
        let processor = BatchSpanProcessor(
            exporter: exporter,
            configuration: .init(maxQueueSize: 12, maxExportBatchSize: 5, scheduleDelay: .seconds(3600)),
            registry: MetricRegistry()
        )
        let tracer = KiteTracer(processor: processor)
        for index in 0..<17 { tracer.startSpan("s\(index)").end() }
        await processor.forceFlush()
        let batches = exporter.names.withLock { $0 }
        #expect(batches.map(\.count) == [5, 5, 2])
        #expect(batches.flatMap { $0 } == (5..<17).map { "s\($0)" })
        // More spans after the export: only they go in the next one.
        for index in 17..<20 { tracer.startSpan("s\(index)").end() }
        await processor.forceFlush()
        #expect(exporter.names.withLock { $0 }.last == ["s17", "s18", "s19"])
    }

    /// Keeps what it is given, like ``InMemorySpanExporter``, and announces each export: a test
    /// waits for the spans it expects instead of polling against a clock (under the whole suite
    /// on two cores the process once stalled for 20 s, longer than any such clock allowed).
    final class AnnouncingExporter: SpanExporter {
        private let kept = InMemorySpanExporter()
        private let announcements: AsyncStream<Void>
        private let announce: AsyncStream<Void>.Continuation

        init() {
            // The newest announcement is kept: one made between a test's look and its wait wakes it.
            (self.announcements, self.announce) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
        }

        var exportedSpans: [SpanRecord] { self.kept.exportedSpans }

        func export(_ batch: [SpanRecord]) async throws {
            try await self.kept.export(batch)
            self.announce.yield()
        }

        /// Returns once `count` spans were exported in all, and how long that took. One waiter
        /// at a time.
        func waitForExported(_ count: Int) async -> Duration {
            let start = ContinuousClock.now
            if self.kept.exportedSpans.count < count {
                for await _ in self.announcements where self.kept.exportedSpans.count >= count { break }
            }
            return ContinuousClock.now - start
        }
    }

    @Test(
        "the run loop exports a full batch without waiting for the schedule delay, also while a partial one waits for it, and flushes on shutdown",
        .timeLimit(.minutes(1))
    )
    func runLoop() async throws {
        let exporter = AnnouncingExporter()
        let processor = BatchSpanProcessor(
            exporter: exporter,
            configuration: .init(maxQueueSize: 100, maxExportBatchSize: 5, scheduleDelay: .seconds(3600)),
            registry: MetricRegistry()
        )
        let tracer = KiteTracer(processor: processor)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await processor.run() }
            for index in 0..<5 { tracer.startSpan("batch \(index)").end() }
            _ = await exporter.waitForExported(5)
            #expect(exporter.exportedSpans.count == 5)
            // A partial batch: the run loop wakes for its first span and arms the hour's flush
            // deadline (the yields give it the chance; nothing outside can see it armed). Filling
            // the batch exports it at once, armed deadline or not.
            for index in 0..<3 { tracer.startSpan("partial \(index)").end() }
            for _ in 0..<10 { await Task.yield() }
            for index in 3..<5 { tracer.startSpan("partial \(index)").end() }
            _ = await exporter.waitForExported(10)
            #expect(exporter.exportedSpans.suffix(5).map(\.name) == (0..<5).map { "partial \($0)" })
            tracer.startSpan("leftover").end()
            group.cancelAll()
            try await group.waitForAll()
        }
        #expect(exporter.exportedSpans.map(\.name).last == "leftover")
    }

    @Test(
        "a partial batch waits for the schedule delay, again after each export and after a full batch (one flush timer for the queue)",
        .timeLimit(.minutes(1))
    )
    func scheduleDelayFlushes() async throws {
        let exporter = AnnouncingExporter()
        let delay = Duration.seconds(1)
        let processor = BatchSpanProcessor(
            exporter: exporter,
            configuration: .init(maxQueueSize: 100, maxExportBatchSize: 10, scheduleDelay: delay),
            registry: MetricRegistry()
        )
        let tracer = KiteTracer(processor: processor)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await processor.run() }
            // Partial batches, one after the other: each waits for its own delay, whatever the
            // timer was doing for the one before. (Only lower bounds on the time: a loaded
            // machine makes every wait longer, never shorter.)
            for round in 1...3 {
                for index in 0..<3 { tracer.startSpan("partial \(round).\(index)").end() }
                let waited = await exporter.waitForExported(round * 3)
                #expect(exporter.exportedSpans.count == round * 3)
                #expect(waited >= delay - .milliseconds(20), "round \(round) exported after \(waited)")
            }
            // A full batch (that it goes without the delay: `runLoop`, with an hour's delay), and
            // the partial one after it waits for the delay again, not for the timer armed before.
            for index in 0..<10 { tracer.startSpan("full \(index)").end() }
            _ = await exporter.waitForExported(19)
            #expect(exporter.exportedSpans.count == 19)
            tracer.startSpan("last").end()
            let last = await exporter.waitForExported(20)
            #expect(exporter.exportedSpans.map(\.name).last == "last")
            #expect(last >= delay - .milliseconds(20))
            group.cancelAll()
            try await group.waitForAll()
        }
    }

    // No upper bound on the time taken: under the whole suite on two cores the flush took 14 s
    // once (the timer's task waited for a thread). The export sleeps for an hour unless
    // cancelled, so returning at all shows the timeout; the time limit catches one never cancelled.
    @Test(
        "an export that hangs is cancelled at the export timeout, its batch counted as failed, and the next batch goes through",
        .timeLimit(.minutes(1))
    )
    func exportTimeoutCancelsHungExport() async throws {
        /// Hangs on its first export until cancelled; later exports return at once.
        final class HangingOnce: SpanExporter, Sendable {
            let calls = Atomic(0)
            let cancelled = Atomic(false)
            func export(_ batch: [SpanRecord]) async throws {
                guard self.calls.wrappingAdd(1, ordering: .relaxed).oldValue == 0 else { return }
                do {
                    try await Task.sleep(for: .seconds(3600))
                } catch {
                    self.cancelled.store(true, ordering: .relaxed)
                    throw error
                }
            }
        }
        let exporter = HangingOnce()
        let registry = MetricRegistry()
        let timeout = Duration.milliseconds(300)
        let processor = BatchSpanProcessor(
            exporter: exporter,
            configuration: .init(maxQueueSize: 100, maxExportBatchSize: 10, scheduleDelay: .seconds(3600), exportTimeout: timeout),
            registry: registry
        )
        let tracer = KiteTracer(processor: processor)
        for index in 0..<2 { tracer.startSpan("held \(index)").end() }
        let clock = ContinuousClock()
        let started = clock.now
        await processor.forceFlush()
        let elapsed = clock.now - started
        let cancelled = exporter.cancelled.load(ordering: .relaxed)
        #expect(cancelled, "the hung export was cancelled")
        #expect(elapsed >= timeout, "\(elapsed)")
        #expect(seriesValue(registry, "kite_span_exporter_failed_spans_total") == 2)
        tracer.startSpan("after").end()
        await processor.forceFlush()
        let calls = exporter.calls.load(ordering: .relaxed)
        #expect(calls == 2)
        #expect(seriesValue(registry, "kite_span_exporter_exported_spans_total") == 1)
    }

    @Test("exported spans are released by the threads that end spans, two per span, and by the next export at the latest")
    func exportedSpansReleased() async throws {
        /// An attribute value that counts its releases.
        final class Tracked: CustomStringConvertible, Sendable {
            static let released = Mutex(0)
            var description: String { "tracked" }
            deinit { Self.released.withLock { $0 += 1 } }
        }
        struct Discarding: SpanExporter {
            func export(_ batch: [SpanRecord]) async throws {}
        }
        let processor = BatchSpanProcessor(exporter: Discarding(), registry: MetricRegistry())
        let tracer = KiteTracer(processor: processor)
        for _ in 0..<4 {
            let span = tracer.startSpan("tracked")
            span.setAttribute("value", .stringConvertible(Tracked()))
            span.end()
        }
        await processor.forceFlush()
        let afterExport = Tracked.released.withLock { $0 }
        tracer.startSpan("plain").end()
        #expect(Tracked.released.withLock { $0 } == afterExport + 2, "ending a span releases two exported ones")
        await processor.forceFlush()
        #expect(Tracked.released.withLock { $0 } == 4, "the next export releases the rest")
    }

    @Test("exports that fail are counted")
    func failingExporter() async throws {
        struct Failing: SpanExporter {
            struct Down: Error {}
            func export(_ batch: [SpanRecord]) async throws { throw Down() }
        }
        let registry = MetricRegistry()
        let processor = BatchSpanProcessor(exporter: Failing(), registry: registry)
        let tracer = KiteTracer(processor: processor)
        for _ in 0..<3 { tracer.startSpan("x").end() }
        await processor.forceFlush()
        let text = String(decoding: registry.render(format: .prometheusText), as: UTF8.self)
        #expect(text.contains("kite_span_exporter_failed_spans_total 3\n"))
    }

    @Test("IDs are unique and non-zero")
    func ids() {
        let generator = IDGenerator()
        var seen = Set<SpanID>()
        for _ in 0..<10_000 {
            let id = generator.spanID()
            #expect(id != SpanID.null)
            seen.insert(id)
        }
        #expect(seen.count == 10_000)
    }

    @Test("the wall clock read through the monotonic one lies between two readings of the wall clock, across anchors")
    func wallClockThroughMonotonic() {
        // 1 ms of slack: the offset is measured again every 10 ms, and the clocks hardly drift
        // apart in between (not at all on Linux, 5 µs at most on Darwin).
        let slack: UInt64 = 1_000_000
        let first = MonotonicClock.nanoseconds()
        // Long enough to cross several anchors (each lives 10 ms of the monotonic clock).
        while MonotonicClock.nanoseconds() &- first < 5 * MonotonicClock.anchorLifetimeNanoseconds {
            let before = DefaultTracerClock.now.nanosecondsSinceEpoch
            let monotonic = MonotonicClock.nanoseconds()
            let wall = MonotonicClock.wallNanoseconds(at: monotonic)
            let after = DefaultTracerClock.now.nanosecondsSinceEpoch
            guard wall &+ slack >= before, wall <= after &+ slack else {
                Issue.record("\(wall) is not between \(before) and \(after)")
                return
            }
        }
    }
}

extension SpanAttributeList {
    /// The keys, in the order the list walks them.
    var keys: [String] {
        var keys: [String] = []
        self.forEach { key, _ in keys.append(key) }
        return keys
    }
}
