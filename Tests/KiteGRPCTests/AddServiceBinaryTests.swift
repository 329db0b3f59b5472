import Foundation
import KiteTestSupport
import Testing

/// A built executable of this package (`addsvc`, `addcli`).
func exampleBinary(_ name: String) throws -> String {
    try packageBinary(name)
}

/// The addsvc binary, started on ports the system picks; the ports are read from its log lines.
final class AddServiceProcess: @unchecked Sendable {
    // @unchecked: the ports are set in init; the process is stopped once, in deinit.
    private let process = Process()
    private let output = Pipe()
    let lines = OutputLines()
    private(set) var httpPort = 0
    private(set) var grpcPort = 0
    private(set) var thriftPort = 0

    /// Starts addsvc with `arguments` after the address flags; `httpPort` 0 lets the system pick.
    init(environment: [String: String], arguments: [String] = [], httpPort: Int = 0) async throws {
        self.process.executableURL = URL(fileURLWithPath: try exampleBinary("addsvc"))
        self.process.arguments = ["--host", "127.0.0.1", "--http-port", "\(httpPort)", "--grpc-port", "0"] + arguments
        self.process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        self.process.standardOutput = self.output
        self.process.standardError = self.output
        self.lines.collect(from: self.output)
        try self.process.run()
        let lines = self.lines
        let process = self.process
        let servers = arguments.contains("--thrift-port") ? 3 : 2
        try await waitUntil("addsvc to log its ports") {
            guard process.isRunning else { throw AddServiceExited(output: lines.all) }
            return lines.all.filter { $0.contains(#"msg="addsvc listening""#) }.count == servers
        }
        for line in lines.all where line.contains(#"msg="addsvc listening""#) {
            let fields = line.split(separator: " ")
            let port = Int(fields.first { $0.hasPrefix("port=") }?.dropFirst(5) ?? "") ?? 0
            if fields.contains("transport=http") {
                self.httpPort = port
            } else if fields.contains("transport=thrift") {
                self.thriftPort = port
            } else {
                self.grpcPort = port
            }
        }
    }

    /// Kills addsvc at once (SIGKILL): a crash, with no deregistration.
    func crash() async throws {
        kill(self.process.processIdentifier, SIGKILL)
        let process = self.process
        try await waitUntil("addsvc to die") { !process.isRunning }
    }

    /// Sends SIGTERM and waits for the exit status.
    func terminate() async throws -> Int32 {
        kill(self.process.processIdentifier, SIGTERM)
        let process = self.process
        try await waitUntil("addsvc to exit after SIGTERM") { !process.isRunning }
        return process.terminationStatus
    }

    deinit {
        self.output.fileHandleForReading.readabilityHandler = nil
        ChildStopper.stop(self.process, signal: SIGKILL, grace: .zero)
    }
}

struct AddServiceExited: StopsWaiting, CustomStringConvertible {
    var output: [String]
    var description: String { "addsvc exited before listening: \(self.output.suffix(5))" }
}

@Suite("addsvc and addcli as processes", .enabled(if: Peers.isAvailable("python3")))
struct AddServiceBinaryTests {
    static func addcli(_ arguments: [String], environment: [String: String] = [:]) async throws -> CommandResult {
        var command = ["env"]
        for (name, value) in environment { command.append("\(name)=\(value)") }
        return try await runCommandAsync("/usr/bin/env", Array(command.dropFirst()) + [try exampleBinary("addcli")] + arguments)
    }

    @Test("addcli calls addsvc over HTTP and gRPC: the result alone on stdout, errors on stderr with exit 1 (the service's) or 2 (the call's)")
    func callsBothTransports() async throws {
        let addsvc = try await AddServiceProcess(environment: ["OTEL_TRACES_EXPORTER": "none"])
        let http = ["--transport", "http", "--http-addr", "127.0.0.1:\(addsvc.httpPort)"]
        let grpc = ["--transport", "grpc", "--grpc-addr", "127.0.0.1:\(addsvc.grpcPort)"]

        for transport in [http, grpc] {
            let sum = try await Self.addcli(transport + ["sum", "1", "2"])
            #expect(sum.status == 0, "\(sum.standardError)")
            #expect(sum.standardOutput == "3\n")
            let concat = try await Self.addcli(transport + ["concat", "x", "y"])
            #expect(concat.standardOutput == "xy\n")
            let overflow = try await Self.addcli(transport + ["sum", "9223372036854775807", "1"])
            #expect(overflow.status == 1)
            #expect(overflow.standardOutput.isEmpty)
            #expect(overflow.standardError == "addcli: integer overflow\n")
            let tooLong = try await Self.addcli(transport + ["concat", "hello", "worldwide"])
            #expect(tooLong.status == 1)
            #expect(tooLong.standardError == "addcli: result exceeds maximum size\n")
        }
        let closed = try freePort()
        let refused = try await Self.addcli(["--transport", "grpc", "--grpc-addr", "127.0.0.1:\(closed)", "sum", "1", "2"])
        #expect(refused.status == 2)
        #expect(refused.standardError.hasPrefix("addcli: UNAVAILABLE"))
        let refusedHTTP = try await Self.addcli(["--transport", "http", "--http-addr", "127.0.0.1:\(closed)", "sum", "1", "2"])
        #expect(refusedHTTP.status == 2)
        let usage = try await Self.addcli(["--transport", "grpc", "sum", "one", "2"])
        #expect(usage.status != 0)
        #expect(usage.standardError.contains("sum takes two integers"))

        #expect(try await addsvc.terminate() == 0)
    }

    @Test("addcli's client span and addsvc's server span arrive at a collector as one trace, under addcli's retry attempt span")
    func oneTraceAcrossProcesses() async throws {
        let receiver = try await OTLPReceiver()
        let otlp = ["OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_METRICS_EXPORTER": "none"]
        let addsvc = try await AddServiceProcess(environment: otlp)
        for transport in [["--transport", "grpc", "--grpc-addr", "127.0.0.1:\(addsvc.grpcPort)"],
                          ["--transport", "http", "--http-addr", "127.0.0.1:\(addsvc.httpPort)"]] {
            let result = try await Self.addcli(transport + ["sum", "20", "22"], environment: otlp)
            #expect(result.standardOutput == "42\n", "\(result.standardError)")
        }
        let received = try await receiver.waitFor("both client and both server spans") { received in
            received.spans.filter { $0.resource["service.name"] == "addcli" && $0.kind == 3 }.count == 2
                && received.spans.filter { $0.resource["service.name"] == "addcli" && $0.name == "addsvc attempt" }.count == 2
                && received.spans.filter { $0.resource["service.name"] == "addsvc" && $0.name == "sum" }.count == 2
        }
        for client in received.spans where client.resource["service.name"] == "addcli" && client.kind == 3 {
            // addcli's retry runs each attempt in a span of its own: the client span's parent.
            let attempt = try #require(received.spans.first { $0.spanId == client.parentSpanId })
            #expect(attempt.name == "addsvc attempt")
            #expect(attempt.traceId == client.traceId)
            let server = try #require(received.spans.first {
                $0.resource["service.name"] == "addsvc" && $0.parentSpanId == client.spanId
            })
            #expect(server.traceId == client.traceId)
            #expect(server.kind == 2, "SPAN_KIND_SERVER")
            #expect(server.name == (client.name == "POST" ? "POST /sum" : "pb.Add/Sum"))
            let endpoint = try #require(received.spans.first { $0.name == "sum" && $0.parentSpanId == server.spanId })
            #expect(endpoint.traceId == client.traceId)
        }
        _ = try await addsvc.terminate()
    }

    @Test(
        "over NATS: addcli calls addsvc's subjects through a real nats-server, errors come back typed, and the hop is one trace",
        .enabled(if: Peers.isAvailable("nats-server"))
    )
    func natsOneTrace() async throws {
        let nats = try await NATSServer()
        let receiver = try await OTLPReceiver()
        let otlp = ["OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_METRICS_EXPORTER": "none"]
        let addsvc = try await AddServiceProcess(environment: otlp, arguments: ["--nats", nats.url])
        let lines = addsvc.lines
        try await waitUntil("addsvc to serve on NATS") { lines.all.contains { $0.contains(#"msg="nats: serving""#) } }
        let transport = ["--transport", "nats", "--nats", nats.url]
        let sum = try await Self.addcli(transport + ["sum", "20", "22"], environment: otlp)
        #expect(sum.standardOutput == "42\n", "\(sum.standardError)")
        let concat = try await Self.addcli(transport + ["concat", "x", "y"])
        #expect(concat.standardOutput == "xy\n")
        let overflow = try await Self.addcli(transport + ["sum", "9223372036854775807", "1"])
        #expect(overflow.status == 1 && overflow.standardError == "addcli: integer overflow\n")

        let received = try await receiver.waitFor("addcli's request span and addsvc's process span") { received in
            received.spans.contains { $0.resource["service.name"] == "addcli" && $0.name == "request addsvc.sum" }
                && received.spans.contains { $0.resource["service.name"] == "addsvc" && $0.name == "sum" }
        }
        let client = try #require(received.spans.first { $0.resource["service.name"] == "addcli" && $0.name == "request addsvc.sum" })
        #expect(client.kind == 3, "SPAN_KIND_CLIENT")
        let process = try #require(received.spans.first {
            $0.resource["service.name"] == "addsvc" && $0.parentSpanId == client.spanId
        })
        #expect(process.name == "process addsvc.sum")
        #expect(process.kind == 5, "SPAN_KIND_CONSUMER")
        #expect(process.traceId == client.traceId)
        let endpoint = try #require(received.spans.first { $0.name == "sum" && $0.parentSpanId == process.spanId })
        #expect(endpoint.traceId == client.traceId)
        #expect(try await addsvc.terminate() == 0)

        // No server: a clear error, exit 2.
        try await nats.stop()
        let down = try await Self.addcli(transport + ["sum", "1", "2"])
        #expect(down.status == 2)
        #expect(down.standardError.hasPrefix("addcli:"), "\(down.standardError)")
    }

    @Test("over Thrift: addcli calls addsvc with go-kit's IDL in either protocol, errors come back typed, and the hop is one trace", arguments: ["compact", "binary"])
    func thriftOneTrace(protocol: String) async throws {
        let receiver = try await OTLPReceiver()
        let otlp = ["OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_METRICS_EXPORTER": "none"]
        let addsvc = try await AddServiceProcess(environment: otlp, arguments: ["--thrift-port", "0", "--thrift-protocol", `protocol`])
        let transport = ["--transport", "thrift", "--thrift-addr", "127.0.0.1:\(addsvc.thriftPort)", "--thrift-protocol", `protocol`]
        let sum = try await Self.addcli(transport + ["sum", "20", "22"], environment: otlp)
        #expect(sum.standardOutput == "42\n", "\(sum.standardError)")
        let concat = try await Self.addcli(transport + ["concat", "x", "y"])
        #expect(concat.standardOutput == "xy\n")
        let overflow = try await Self.addcli(transport + ["sum", "9223372036854775807", "1"])
        #expect(overflow.status == 1 && overflow.standardError == "addcli: integer overflow\n")

        let received = try await receiver.waitFor("addcli's client span and addsvc's server span") { received in
            received.spans.contains { $0.resource["service.name"] == "addcli" && $0.name == "AddService/Sum" }
                && received.spans.contains { $0.resource["service.name"] == "addsvc" && $0.name == "sum" }
        }
        let client = try #require(received.spans.first { $0.resource["service.name"] == "addcli" && $0.name == "AddService/Sum" })
        #expect(client.kind == 3, "SPAN_KIND_CLIENT")
        let server = try #require(received.spans.first { $0.resource["service.name"] == "addsvc" && $0.parentSpanId == client.spanId })
        #expect(server.name == "AddService/Sum" && server.kind == 2)
        #expect(server.traceId == client.traceId)
        let endpoint = try #require(received.spans.first { $0.name == "sum" && $0.parentSpanId == server.spanId })
        #expect(endpoint.traceId == client.traceId)
        #expect(try await addsvc.terminate() == 0)
        // Nothing listens any more: a clear error, exit 2.
        let down = try await Self.addcli(transport + ["sum", "1", "2"])
        #expect(down.status == 2 && down.standardError.hasPrefix("addcli: UNAVAILABLE"), "\(down.standardError)")
    }

    /// What `addcli --repeat` prints.
    struct Summary: Decodable {
        var calls: Int
        var success: Int
        var per_second: Double
    }

    @Test("addcli as a load generator: --rate paces the calls; with --max-in-flight and OTEL_EXPORTER_PROMETHEUS_PORT it serves its bulkhead's waits while it runs")
    func pacedLoadServesItsMetrics() async throws {
        let addsvc = try await AddServiceProcess(environment: ["OTEL_TRACES_EXPORTER": "none"], arguments: ["--latency", "20ms"])
        let http = ["--transport", "http", "--http-addr", "127.0.0.1:\(addsvc.httpPort)"]

        // 20 calls at 100 per second: the last starts 190 ms after the first, so at most ~105/s.
        let paced = try await Self.addcli(http + ["--repeat", "20", "--concurrency", "4", "--rate", "100", "sum", "1", "2"])
        #expect(paced.status == 0, "\(paced.standardError)")
        let summary = try JSONDecoder().decode(Summary.self, from: Data(paced.standardOutput.utf8))
        #expect(summary.calls == 20 && summary.success == 20)
        #expect(summary.per_second <= 20 / 0.19, "\(paced.standardOutput)")
        let badRate = try await Self.addcli(http + ["--repeat", "2", "--rate", "0", "sum", "1", "2"])
        #expect(badRate.status != 0 && badRate.standardError.contains("--rate must be a positive number"))

        // Four callers through a bulkhead of one, each call holding it 20 ms: the others wait.
        let port = try freePort()
        let client = Process()
        client.executableURL = URL(fileURLWithPath: try exampleBinary("addcli"))
        client.arguments = http + ["--repeat", "100000", "--concurrency", "4", "--rate", "200", "--max-in-flight", "1", "sum", "1", "2"]
        client.environment = ProcessInfo.processInfo.environment.merging([
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_EXPORTER_PROMETHEUS_HOST": "127.0.0.1",
            "OTEL_EXPORTER_PROMETHEUS_PORT": "\(port)",
        ]) { $1 }
        client.standardOutput = FileHandle.nullDevice
        try client.run()
        defer { ChildStopper.stop(client, signal: SIGKILL, grace: .zero) }
        func sample(_ prefix: String, _ page: String) -> Double? {
            page.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }
        }
        try await waitUntil("addcli's /metrics to show calls waiting in its bulkhead") {
            let page = try await httpRequest("http://127.0.0.1:\(port)/metrics").text
            return (sample(#"kite_limiter_waited_total{limiter="addsvc",kind="bulkhead"}"#, page) ?? 0) > 0
                && sample(#"kite_limiter_limit{limiter="addsvc",kind="bulkhead"}"#, page) == 1
                && (sample(#"kite_retry_budget_tokens{retry="addsvc"}"#, page) ?? 0) > 0
        }
        #expect(client.isRunning)
        _ = try await addsvc.terminate()
    }
}
