import Foundation
import KiteTestSupport
import Testing

/// One bad setting the binary must survive: it starts, answers, and (unless `warned` is false)
/// logs a warning naming the variable.
struct BadSetting: Sendable, CustomStringConvertible {
    var name: String
    var value: String
    /// Other variables the setting needs to be read at all.
    var companions: [String: String] = [:]
    /// Whether a warning is expected (an empty value means "unset", which is no mistake).
    var warned = true

    var description: String { "\(self.name)=\(self.value)" }

    /// Every variable of the README's configuration table with values that cannot be used.
    static let all: [BadSetting] = {
        let statsd = ["KITE_STATSD_ADDRESS": "127.0.0.1:9"]
        var settings: [BadSetting] = []
        func numeric(_ name: String, zeroIsBad: Bool, hugeIsBad: Bool, companions: [String: String] = [:]) {
            var values = ["", "abc", "-5", "12.5", "99999999999999999999"]
            if zeroIsBad { values.append("0") }
            if hugeIsBad { values.append("1000000000000") }
            for value in values {
                settings.append(BadSetting(name: name, value: value, companions: companions, warned: !value.isEmpty))
            }
        }
        // Milliseconds: zero and more than a day are refused.
        for name in [
            "OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_EXPORT_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
            "OTEL_METRIC_EXPORT_INTERVAL", "OTEL_METRIC_EXPORT_TIMEOUT", "OTEL_BLRP_SCHEDULE_DELAY", "OTEL_BLRP_EXPORT_TIMEOUT",
        ] {
            numeric(name, zeroIsBad: true, hugeIsBad: true)
        }
        numeric("KITE_STATSD_FLUSH_INTERVAL", zeroIsBad: true, hugeIsBad: true, companions: statsd)
        // Sizes: zero and more than memory allows are refused.
        for name in ["OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "OTEL_BLRP_MAX_QUEUE_SIZE", "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE"] {
            numeric(name, zeroIsBad: true, hugeIsBad: true)
        }
        numeric("KITE_STATSD_MAX_PACKET", zeroIsBad: true, hugeIsBad: true, companions: statsd)
        numeric("KITE_METRICS_MAX_SERIES", zeroIsBad: true, hugeIsBad: false)
        numeric("OTEL_EXPORTER_PROMETHEUS_PORT", zeroIsBad: false, hugeIsBad: true)
        // Limits: zero keeps nothing and a huge limit is no limit, both meaningful.
        for name in [
            "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT", "OTEL_SPAN_EVENT_COUNT_LIMIT",
            "OTEL_SPAN_LINK_COUNT_LIMIT", "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
            "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
        ] {
            numeric(name, zeroIsBad: false, hugeIsBad: false)
        }
        for value in ["", "2", "-0.5", "half"] {
            settings.append(BadSetting(name: "OTEL_TRACES_SAMPLER_ARG", value: value, companions: ["OTEL_TRACES_SAMPLER": "traceidratio"], warned: !value.isEmpty))
        }
        // Names from a fixed set.
        for name in [
            "OTEL_TRACES_SAMPLER", "OTEL_PROPAGATORS", "OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_LOGS_EXPORTER",
            "OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
            "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
            "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "OTEL_LOG_LEVEL", "KITE_LOG_LEVEL", "KITE_LOG_FORMAT",
        ] {
            settings.append(BadSetting(name: name, value: "", warned: false))
            settings.append(BadSetting(name: name, value: "bogus"))
        }
        settings.append(BadSetting(name: "KITE_STATSD_DIALECT", value: "bogus", companions: statsd))
        // Structured values.
        for value in ["novalue", "=x"] {
            settings.append(BadSetting(name: "OTEL_RESOURCE_ATTRIBUTES", value: value))
        }
        for name in ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"] {
            for value in ["not-a-url", "http://[::1", "ftp://collector:4318", "http://collector:99999", "http://"] {
                settings.append(BadSetting(name: name, value: value))
            }
        }
        for name in ["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_METRICS_HEADERS", "OTEL_EXPORTER_OTLP_LOGS_HEADERS"] {
            for value in ["api key=abc", "novalue", "k=%0Aevil"] {
                settings.append(BadSetting(name: name, value: value))
            }
        }
        for value in ["nohostport", "127.0.0.1:99999", "127.0.0.1:0", ":8125", "unix://"] {
            settings.append(BadSetting(name: "KITE_STATSD_ADDRESS", value: value))
        }
        // A host the scrape listener cannot bind: it logs that and the service keeps serving.
        settings.append(BadSetting(name: "OTEL_EXPORTER_PROMETHEUS_HOST", value: "no such host!", companions: ["OTEL_EXPORTER_PROMETHEUS_PORT": "0"]))
        return settings
    }()
}

@Suite("The stringsvc example under bad settings, small caps and faulty agents")
struct ExampleRobustnessTests {
    @Test("one start per bad value of every variable: the service starts, answers, and warns naming the variable", .timeLimit(.minutes(10)))
    func badSettings() async throws {
        let settings = BadSetting.all
        // A few processes at a time: each start is one process, and the machine has two cores.
        try await withThrowingTaskGroup(of: Void.self) { group in
            var pending = settings[...]
            func startNext() {
                guard let setting = pending.popFirst() else { return }
                group.addTask { try await Self.check(setting) }
            }
            for _ in 0..<4 { startNext() }
            while try await group.next() != nil { startNext() }
        }
    }

    static func check(_ setting: BadSetting) async throws {
        var environment = setting.companions
        environment[setting.name] = setting.value
        // Nothing reaches out: no OTLP collector unless the setting is about one.
        let example = try await RunningExample(environment: environment)
        let answer = try await post("\(example.base)/uppercase", #"{"s":"ok"}"#)
        #expect(answer.status == 200, "\(setting): \(answer.status)")
        let warnings = example.lines.all.filter { $0.contains(setting.name) && ($0.contains("level=warning") || $0.contains("level=error")) }
        if setting.warned {
            #expect(warnings.count == 1, "\(setting): \(warnings)")
        } else {
            #expect(warnings.isEmpty, "\(setting): \(warnings)")
        }
        #expect(!example.lines.all.contains { $0.contains("Fatal error") || $0.contains("failed to allocate") }, "\(setting)")
    }

    @Test("--port outside 0…65535 is refused with a clear message; the process does not start")
    func portFlag() async throws {
        for port in ["99999", "65536", "-1"] {
            let result = try await runCommandAsync(try stringsvcBinary(), ["--port=\(port)"])
            #expect(result.status == 64, "--port \(port): \(result.status)")
            #expect(result.standardError.contains("--port must be in 0…65535"), "\(result.standardError)")
        }
    }

    @Test(
        "caps of 1, 2 and 3 series under concurrent traffic across more routes: up, refusals counted, /metrics valid for promtool",
        .enabled(if: Peers.isAvailable("promtool")),
        .timeLimit(.minutes(2))
    )
    func smallCaps() async throws {
        for cap in [1, 2, 3] {
            let example = try await RunningExample(environment: ["KITE_METRICS_MAX_SERIES": "\(cap)"])
            let base = example.base
            try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<60 {
                    group.addTask {
                        switch index % 5 {
                        case 0: try await post("\(base)/uppercase", #"{"s":"a"}"#).status
                        case 1: try await post("\(base)/count", #"{"s":"abc"}"#).status
                        case 2: try await post("\(base)/count", #"{"s":""}"#).status
                        case 3: try await post("\(base)/missing\(index)", "{}").status
                        default: try await httpRequest("\(base)/uppercase").status
                        }
                    }
                }
                for try await status in group { #expect([200, 400, 404, 405].contains(status), "cap \(cap): \(status)") }
            }
            let exposition = try await httpRequest("\(base)/metrics")
            #expect(exposition.status == 200)
            let check = try await runCommandAsync(try Peers.require("promtool"), ["check", "metrics"], input: exposition.body)
            #expect(check.status == 0, "cap \(cap): \(check.standardOutput)\(check.standardError)")
            let refused = exposition.text.split(separator: "\n").filter {
                $0.hasPrefix(#"kite_metric_series_refused_total{metric="http_server_request_duration_seconds",reason="cardinality"}"#)
            }
            #expect(refused.count == 1 && Double(refused.first?.split(separator: " ").last ?? "") ?? 0 > 0, "cap \(cap): \(refused)")
            // Each family holds at most `cap` series.
            let durationSeries = exposition.text.split(separator: "\n").filter { $0.hasPrefix("http_server_request_duration_seconds_count{") }
            #expect(durationSeries.count == cap, "cap \(cap): \(durationSeries)")
            #expect(try await post("\(base)/uppercase", #"{"s":"still"}"#).status == 200)
        }
    }

    @Test("a StatsD agent on a Unix socket that restarts mid-run receives again; the outage is logged once", .timeLimit(.minutes(1)))
    func statsdUnixSocketRestart() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kite-\(UUID().uuidString.prefix(8)).sock").path
        let agent = try DatagramReceiver(unixSocketPath: path)
        let example = try await RunningExample(environment: [
            "KITE_STATSD_ADDRESS": "unix://\(path)",
            "KITE_STATSD_FLUSH_INTERVAL": "20",
        ])
        let prefix = "kite_endpoint_requests_total.endpoint.uppercase.outcome.success.error_type._:"
        @Sendable func count(_ lines: [String]) -> Int {
            lines.filter { $0.hasPrefix(prefix) }.compactMap { Int($0.dropFirst(prefix.count).dropLast(2)) }.reduce(0, +)
        }
        async let firstLines = agent.receiveLines { count($0) >= 1 }
        #expect(try await post("\(example.base)/uppercase", #"{"s":"a"}"#).status == 200)
        let first = await firstLines.lines
        #expect(count(first) == 1)

        // The agent goes away (its socket unlinked); requests go on while it is down.
        agent.stop()
        #expect(try await post("\(example.base)/uppercase", #"{"s":"b"}"#).status == 200)
        try await waitUntil("the outage to be logged") {
            example.lines.all.contains { $0.contains("StatsD agent unreachable") }
        }
        // It comes back at the same path: later requests reach it without restarting the service.
        let restarted = try DatagramReceiver(unixSocketPath: path)
        async let againLines = restarted.receiveLines { count($0) >= 3 }
        for word in ["c", "d", "e"] {
            #expect(try await post("\(example.base)/uppercase", #"{"s":"\#(word)"}"#).status == 200)
        }
        let again = await againLines.lines
        #expect(count(again) >= 3)
        try await waitUntil("the recovery to be logged") {
            example.lines.all.contains { $0.contains("StatsD agent reachable again") }
        }
        // One line for the outage, one for its end. (Later lines may follow: this agent stops
        // reading once it has what it waits for, and a full socket is an outage too.)
        let lines = example.lines.all
        let recovered = try #require(lines.firstIndex { $0.contains("StatsD agent reachable again") })
        #expect(lines[..<recovered].filter { $0.contains("StatsD agent unreachable") }.count == 1)
    }

    @Test("an unresolvable StatsD host is logged once, not once per flush", .timeLimit(.minutes(1)))
    func statsdUnreachableLoggedOnce() async throws {
        let example = try await RunningExample(environment: [
            "KITE_STATSD_ADDRESS": "kite-no-such-agent.invalid:8125",
            "KITE_STATSD_FLUSH_INTERVAL": "10",
        ])
        for _ in 0..<20 {
            #expect(try await post("\(example.base)/uppercase", #"{"s":"a"}"#).status == 200)
        }
        try await waitUntil("send errors to be counted past three reconnect attempts") {
            let metrics = try await httpRequest("\(example.base)/metrics").text
            let line = metrics.split(separator: "\n").first { $0.hasPrefix("kite_statsd_send_errors_total ") }
            return Double(line?.split(separator: " ").last ?? "") ?? 0 >= 3
        }
        #expect(example.lines.all.filter { $0.contains("StatsD agent unreachable") }.count == 1)
    }

    @Test("SIGTERM with a 60 s StatsD interval exits at once, not after the interval, and the agent gets the final flush", .timeLimit(.minutes(1)))
    func statsdFlushOnSIGTERM() async throws {
        let agent = try DatagramReceiver()
        let example = try await RunningExample(environment: [
            "KITE_STATSD_ADDRESS": "127.0.0.1:\(agent.port)",
            "KITE_STATSD_FLUSH_INTERVAL": "60000",
        ])
        for word in ["a", "b", "c"] {
            #expect(try await post("\(example.base)/uppercase", #"{"s":"\#(word)"}"#).status == 200)
        }
        // Alone the exit takes about 10 ms; the bound is far below the 60 s interval and leaves room
        // for a loaded machine, where the notice of a child's exit can come seconds late.
        let elapsed = try await example.terminate()
        #expect(elapsed < .seconds(10), "exit took \(elapsed)")
        let line = "kite_endpoint_requests_total.endpoint.uppercase.outcome.success.error_type._:3|c"
        let received = await agent.receiveLines { $0.contains(line) }.lines
        #expect(received.contains(line))
    }

    @Test("a StatsD agent that stops reading its Unix socket holds no flush: sends time out and are counted, SIGTERM still exits promptly", .timeLimit(.minutes(1)))
    func statsdStuckAgent() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kite-\(UUID().uuidString.prefix(8)).sock").path
        let agent = try DatagramReceiver(unixSocketPath: path, reading: false)  // bound, never read: its buffer fills
        let example = try await RunningExample(environment: [
            "KITE_STATSD_ADDRESS": "unix://\(path)",
            "KITE_STATSD_FLUSH_INTERVAL": "5",
            "KITE_STATSD_PREFIX": String(repeating: "p", count: 200),  // long lines fill the buffer sooner
        ])
        try await waitUntil("send errors once the agent's buffer is full") {
            #expect(try await post("\(example.base)/uppercase", #"{"s":"a"}"#).status == 200)
            let metrics = try await httpRequest("\(example.base)/metrics").text
            let line = metrics.split(separator: "\n").first { $0.hasPrefix("kite_statsd_send_errors_total ") }
            return Double(line?.split(separator: " ").last ?? "") ?? 0 > 0
        }
        #expect(try await post("\(example.base)/uppercase", #"{"s":"still"}"#).status == 200)
        // Alone about 1 s, the send timeout of the final flush; the bound tells a timed-out send
        // from one that holds the exit, with room for a loaded machine.
        let elapsed = try await example.terminate()
        #expect(elapsed < .seconds(10), "exit took \(elapsed)")
        withExtendedLifetime(agent) {}
    }

    @Test(
        "schedule delays of 0 leave an idle process idle: next to no CPU over two seconds",
        .enabled(if: Peers.isAvailable("python3")),
        .timeLimit(.minutes(1))
    )
    func idleWithZeroDelays() async throws {
        let receiver = try await OTLPReceiver()
        let example = try await RunningExample(environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "0",
            "OTEL_BLRP_SCHEDULE_DELAY": "0",
        ])
        #expect(try await post("\(example.base)/uppercase", #"{"s":"a"}"#).status == 200)
        try await receiver.waitFor("the request's spans and log record") { $0.spans.count == 2 && !$0.logs.isEmpty }
        // Measured over a fixed window: the claim is about time passing with nothing to do.
        let before = try Self.cpuSeconds(of: example.process.processIdentifier)
        try await Task.sleep(for: .seconds(2))
        let used = try Self.cpuSeconds(of: example.process.processIdentifier) - before
        #expect(used < 0.1, "an idle process used \(used) s of CPU in 2 s")
        #expect(example.lines.all.contains { $0.contains("OTEL_BSP_SCHEDULE_DELAY=0") && $0.contains("using 5000") })
    }

    struct UnreadableStat: Error {
        var text: String
    }

    /// User plus system CPU time of a process, from `/proc/PID/stat`.
    static func cpuSeconds(of pid: Int32) throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // The fields after the command name (which may hold spaces) start after the last ')'.
        guard let close = stat.lastIndex(of: ")") else { throw UnreadableStat(text: stat) }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else {
            throw UnreadableStat(text: stat)
        }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
