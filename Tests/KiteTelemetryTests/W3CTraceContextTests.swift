import Instrumentation
import KiteTelemetry
import Testing
import Tracing
import W3CTraceContext

/// W3C Trace Context level 1, rule by rule, on the extracting side (what a server continues) and
/// the injecting side (what a client sends).
@Suite("W3C Trace Context, rule by rule")
struct W3CTraceContextTests {
    static let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let spanID = "00f067aa0ba902b7"

    /// What a server extracts from `headers`: the span context, if the trace continues.
    static func extract(_ headers: [String: String]) -> SpanContext? {
        let (tracer, _, _, _) = makeTracer()
        var context = ServiceContext.topLevel
        tracer.extract(headers, into: &context, using: DictionaryExtractor())
        return context.spanContext
    }

    static func state(_ tracestate: String) -> String? {
        self.extract(["traceparent": "00-\(traceID)-\(spanID)-01", "tracestate": tracestate])
            .map { context in context.traceState.map { "\($0.vendor.rawValue)=\($0.value)" }.joined(separator: ",") }
    }

    // MARK: traceparent

    @Test("version 00: exactly 55 characters, lower-case hex, the sampled flag read")
    func version00() throws {
        let sampled = try #require(Self.extract(["traceparent": "00-\(Self.traceID)-\(Self.spanID)-01"]))
        #expect(sampled.traceID.description == Self.traceID)
        #expect(sampled.spanID.description == Self.spanID)
        #expect(sampled.isSampled)
        #expect(sampled.isRemote)
        let unsampled = try #require(Self.extract(["traceparent": "00-\(Self.traceID)-\(Self.spanID)-00"]))
        #expect(!unsampled.isSampled)
        // Flags other than sampled are not defined: read as zero (09 is sampled plus an unknown bit).
        let otherBits = try #require(Self.extract(["traceparent": "00-\(Self.traceID)-\(Self.spanID)-09"]))
        #expect(otherBits.isSampled)
        #expect(otherBits.flags.rawValue == 0x01)
        // Optional whitespace around the value is not part of it.
        #expect(Self.extract(["traceparent": " \t00-\(Self.traceID)-\(Self.spanID)-01 "]) != nil)
    }

    @Test("a future version is parsed for its first three fields, whatever follows a dash", arguments: [
        "01-\(traceID)-\(spanID)-01",
        "cc-\(traceID)-\(spanID)-01-what-the-future-will-add",
        "fe-\(traceID)-\(spanID)-01-",
    ])
    func futureVersion(header: String) throws {
        let context = try #require(Self.extract(["traceparent": header]))
        #expect(context.traceID.description == Self.traceID)
        #expect(context.spanID.description == Self.spanID)
        #expect(context.isSampled)
    }

    @Test("invalid traceparents restart the trace", arguments: [
        "ff-\(traceID)-\(spanID)-01",  // version ff is invalid
        "00-\(traceID)-\(spanID)-01-extra",  // version 00 is exactly 55 characters
        "01-\(traceID)-\(spanID)-01extra",  // a future version: the flags end or are followed by a dash
        "01-\(traceID)-\(spanID)",  // a future version shorter than 55 characters
        "0-\(traceID)-\(spanID)-01",  // a version of one digit
        "0g-\(traceID)-\(spanID)-01",  // a version that is not hex
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-\(spanID)-01",  // upper-case trace-id
        "00-\(traceID)-00F067AA0BA902B7-01",  // upper-case parent-id
        "00-\(traceID)-\(spanID)-0A",  // upper-case flags
        "0A-\(traceID)-\(spanID)-01",  // upper-case version
        "00-00000000000000000000000000000000-\(spanID)-01",  // all-zero trace-id
        "00-\(traceID)-0000000000000000-01",  // all-zero parent-id
        "00-\(traceID)-\(spanID)-0z",  // flags that are not hex
        "00-\(traceID)_\(spanID)-01",  // a wrong delimiter
        "00-\(traceID)-\(spanID)-1",  // one flag digit
    ])
    func invalidTraceparent(header: String) {
        #expect(Self.extract(["traceparent": header, "tracestate": "rojo=00f067aa0ba902b7"]) == nil)
    }

    @Test("header names are matched in any case")
    func caseInsensitiveNames() throws {
        let context = try #require(Self.extract([
            "TraceParent": "00-\(Self.traceID)-\(Self.spanID)-01",
            "TRACESTATE": "rojo=00f067aa0ba902b7",
        ]))
        #expect(context.traceState.count == 1)
    }

    // MARK: tracestate

    @Test("tracestate members are kept in order, with spaces, tabs and empty members around them ignored")
    func tracestateGrammar() {
        #expect(Self.state("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE") == "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
        #expect(Self.state(" rojo=1 ,\tcongo=2\t, ,,") == "rojo=1,congo=2")
        #expect(Self.state("") == "")
        // Keys: a-z 0-9 _ - * / @, starting with a letter or a digit; the multi-tenant form too.
        #expect(Self.state("0vendor=1,a_b-c*d/e=2,tenant@system=3") == "0vendor=1,a_b-c*d/e=2,tenant@system=3")
        // Values: printable ASCII but , and =; leading spaces are part of the value.
        #expect(Self.state("rojo=a b!~") == "rojo=a b!~")
    }

    @Test("an invalid member is dropped and the valid ones kept", arguments: [
        ("Rojo=1,congo=2", "congo=2"),  // an upper-case key
        ("_rojo=1,congo=2", "congo=2"),  // a key starting with _
        ("ro jo=1,congo=2", "congo=2"),  // a space in the key
        ("rojo=,congo=2", "congo=2"),  // an empty value
        ("rojo=a=b,congo=2", "congo=2"),  // = in the value
        ("rojo=\u{7F},congo=2", "congo=2"),  // a control character in the value
        ("rojo=é,congo=2", "congo=2"),  // non-ASCII in the value
        ("rojo,congo=2", "congo=2"),  // no =
        ("=1,congo=2", "congo=2"),  // no key
        ("congo=2,rojo=" + String(repeating: "x", count: 257), "congo=2"),  // a value over 256 characters
        (String(repeating: "k", count: 257) + "=1,congo=2", "congo=2"),  // a key over 256 characters
        ("rojo=1,congo=2,rojo=3", "rojo=1,congo=2"),  // a repeated key: the first wins
    ])
    func invalidMember(header: String, kept: String) {
        #expect(Self.state(header) == kept)
    }

    @Test("at most 32 members: those past the 32nd are dropped")
    func thirtyTwoMembers() {
        let members = (1...40).map { "k\($0)=v\($0)" }
        let kept = Self.state(members.joined(separator: ","))
        #expect(kept == members.prefix(32).joined(separator: ","))
    }

    @Test("over 512 characters: members over 128 characters go first, then members from the end")
    func fiveHundredTwelveCharacters() throws {
        let long = "big=" + String(repeating: "x", count: 200)  // 204 characters
        let short = (1...20).map { "k\($0)=" + String(repeating: "v", count: 20) }  // 23 or 24 characters each
        let header = ([short[0], long] + short.dropFirst()).joined(separator: ",")
        let kept = try #require(Self.state(header))
        #expect(!kept.contains("big="))
        #expect(kept.utf8.count <= 512)
        // Without the long member the 20 short ones are 480 characters and 19 commas: 499, all kept.
        #expect(kept == short.joined(separator: ","))

        let many = (1...30).map { "key\($0)=" + String(repeating: "v", count: 20) }  // 25 or 26 characters each
        let trimmed = try #require(Self.state(many.joined(separator: ",")))
        #expect(trimmed.utf8.count <= 512)
        let keptMembers = trimmed.split(separator: ",").map(String.init)
        #expect(keptMembers == Array(many.prefix(keptMembers.count)), "members leave from the end")
        // Nine of 25 and ten of 26 characters with their commas are 503; a twentieth would make 530.
        #expect(keptMembers.count == 19)
    }

    @Test("repeated tracestate fields are combined (a carrier that joins them as HTTP does)")
    func repeatedFields() {
        #expect(Self.state("rojo=1, congo=2") == "rojo=1,congo=2")
    }

    @Test("a tracestate is not read without a valid traceparent, and an invalid one leaves the traceparent alone")
    func tracestateIndependence() throws {
        #expect(Self.extract(["traceparent": "garbage", "tracestate": "rojo=1"]) == nil)
        let context = try #require(Self.extract(["traceparent": "00-\(Self.traceID)-\(Self.spanID)-01", "tracestate": "===,,,"]))
        #expect(context.traceState.isEmpty)
        #expect(context.traceID.description == Self.traceID)
    }

    // MARK: injection

    @Test("injection writes version 00 in lower-case hex with a new parent-id, and passes tracestate on unchanged")
    func injection() throws {
        let (tracer, _, _, _) = makeTracer()
        var context = ServiceContext.topLevel
        tracer.extract(
            ["traceparent": "cc-\(Self.traceID)-\(Self.spanID)-01-future", "tracestate": "rojo=1, congo=2,,bad key=3"],
            into: &context,
            using: DictionaryExtractor()
        )
        let span = tracer.startSpan("client", context: context, ofKind: .client)
        var headers: [String: String] = [:]
        tracer.inject(span.context, into: &headers, using: DictionaryInjector())
        span.end()
        let traceparent = try #require(headers["traceparent"])
        #expect(traceparent == "00-\(Self.traceID)-\(span.spanContext.spanID)-01")
        #expect(traceparent == traceparent.lowercased())
        #expect(!traceparent.contains(Self.spanID), "the parent-id is the new span's")
        #expect(headers["tracestate"] == "rojo=1,congo=2")
    }
}
