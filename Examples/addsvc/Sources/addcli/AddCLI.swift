import AddService
import ArgumentParser
import Foundation
import Kite
import KiteGRPC
import KiteHTTP
import KiteNATS
import KiteThrift
import KiteTelemetry
import Logging

/// Calls an addsvc through Kite's client endpoints:
/// `addcli --transport http|grpc|nats|thrift [--http-addr H:P] [--grpc-addr H:Q] [--nats nats://H:N]
/// [--thrift-addr H:T [--thrift-protocol compact|binary] [--thrift-transport framed|buffered]] sum 1 2`
/// (or `concat x y`).
///
/// Prints the result alone on standard output; on an error, prints the message on standard error
/// and exits non-zero (1 for the service's own errors, 2 for a failed call). It is a Kite service
/// too: with `OTEL_EXPORTER_OTLP_ENDPOINT` set it exports its client span.
///
/// Every call goes through ``AddClientResilience``: a 1 s timeout, retry (3 attempts, 20 %
/// budget) and a circuit breaker (5 failures in a row, 5 s cool-down). With `--repeat N` it makes
/// N calls, `--concurrency C` at a time, and prints one JSON line:
/// `{"calls":N,"success":N,"business_error":N,"failure":N,"refused":N,"p50_ms":x,"p99_ms":x}`,
/// where `refused` counts calls refused locally (breaker, limiter) without reaching the server;
/// it then exits 0. `--rate R` starts at most R calls per second; `--max-in-flight M` bounds the
/// calls in flight with a bulkhead (the others wait their turn within their second).
///
/// With `OTEL_EXPORTER_PROMETHEUS_PORT` set, its metrics (the client transport's, the retries,
/// the breaker, the bulkhead) are served for Prometheus at that port while it runs: a long
/// `--repeat` run is a load generator whose side of the calls shows on the dashboards.
@main
struct AddCLI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "addcli", abstract: "Calls addsvc over HTTP, gRPC, NATS or Thrift.")

    enum Transport: String, ExpressibleByArgument, CaseIterable {
        case http, grpc, nats, thrift
    }

    enum Method: String, ExpressibleByArgument, CaseIterable {
        case sum, concat
    }

    @Option(help: "The transport: http, grpc, nats or thrift.")
    var transport: Transport = .http

    @Option(name: .customLong("http-addr"), help: "addsvc's HTTP address, host:port.")
    var httpAddress = "127.0.0.1:8081"

    @Option(name: .customLong("grpc-addr"), help: "addsvc's gRPC address, host:port.")
    var grpcAddress = "127.0.0.1:8082"

    @Option(help: "The NATS server(s) addsvc answers on, nats://H:P[,nats://H:P…].")
    var nats = "nats://127.0.0.1:4222"

    @Option(name: .customLong("thrift-addr"), help: "addsvc's Thrift address, host:port.")
    var thriftAddress = "127.0.0.1:8083"

    @Option(name: .customLong("thrift-protocol"), help: "The Thrift protocol: compact or binary.")
    var thriftProtocol: ThriftProtocol = .compact

    @Option(name: .customLong("thrift-transport"), help: "The Thrift transport: framed or buffered.")
    var thriftTransport: ThriftTransport = .framed

    @Option(help: "Make the call this many times and print a JSON summary instead of the result.")
    var `repeat`: Int?

    @Option(help: "Calls in flight at once with --repeat.")
    var concurrency = 1

    @Option(help: "With --repeat, start at most this many calls per second.")
    var rate: Double?

    @Option(name: .customLong("max-in-flight"), help: "Bound the calls in flight to addsvc with a bulkhead; more wait their turn.")
    var maxInFlight: Int?

    @Argument(help: "sum or concat.")
    var method: Method

    @Argument(help: "The first operand.")
    var a: String

    @Argument(help: "The second operand.")
    var b: String

    func validate() throws {
        if self.method == .sum {
            guard Int(self.a) != nil, Int(self.b) != nil else {
                throw ValidationError("sum takes two integers, not \(self.a) and \(self.b)")
            }
        }
        _ = try Self.split(self.grpcAddress, flag: "--grpc-addr")
        _ = try Self.split(self.httpAddress, flag: "--http-addr")
        _ = try Self.split(self.thriftAddress, flag: "--thrift-addr")
        for server in self.nats.split(separator: ",") {
            do {
                _ = try NATSServerAddress(String(server))
            } catch {
                throw ValidationError("--nats: \(error)")
            }
        }
        if let count = self.repeat, count < 1 { throw ValidationError("--repeat must be at least 1, not \(count)") }
        guard self.concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1, not \(self.concurrency)") }
        if let rate = self.rate, !(rate > 0 && rate.isFinite) { throw ValidationError("--rate must be a positive number, not \(rate)") }
        if let bound = self.maxInFlight, bound < 1 { throw ValidationError("--max-in-flight must be at least 1, not \(bound)") }
    }

    func run() async throws {
        var configuration = TelemetryConfiguration(serviceName: "addcli", environment: ProcessEnvironment.current)
        // Standard output carries the answer alone: Kite's own lines go to standard error, and
        // the CLI writes no log lines or console spans of its own.
        configuration.logLines = false
        // Kite's own notices (a NATS connection made, a reconnection attempt) are not the CLI's
        // output: only errors, unless OTEL_LOG_LEVEL asks for more.
        if ProcessEnvironment.current["OTEL_LOG_LEVEL"] == nil { configuration.internalLogLevel = .error }
        configuration.logOutput = FileDescriptorLogOutput.standardError
        if case .console = configuration.tracesExporter { configuration.tracesExporter = .none }
        let scrapes = ProcessEnvironment.current["OTEL_EXPORTER_PROMETHEUS_PORT"] != nil
        if !scrapes {
            configuration.scrapeListener = nil
            configuration.processMetrics = false
        }
        let telemetry = Telemetry(configuration: configuration)
        let resilience = try AddClientResilience(telemetry: telemetry, maxInFlight: self.maxInFlight)
        let outcome = await withTaskGroup(of: Void.self) { group in
            if let listener = telemetry.configuration.scrapeListener {
                let server = PrometheusScrapeServer(
                    configuration: listener,
                    handler: telemetry.scrapeHandler,
                    logger: telemetry.makeLogger(label: "kite.prometheus")
                )
                group.addTask { try? await server.run() }
            }
            defer { group.cancelAll() }
            return await self.call(over: resilience, telemetry: telemetry)
        }
        await telemetry.shutdown()
        switch outcome {
        case .success(let value):
            print(value)
        case .failure(let error):
            FileHandle.standardError.write(Data("addcli: \(error)\n".utf8))
            throw ExitCode(CallOutcome(of: error) == .businessError ? 1 : 2)
        }
    }

    /// The call (or the calls) over the chosen transport, through `resilience`.
    private func call(over resilience: AddClientResilience, telemetry: Telemetry) async -> Result<String, any Error> {
        do {
            return try await self.callThrowing(over: resilience, telemetry: telemetry)
        } catch {
            return .failure(error)
        }
    }

    private func callThrowing(over resilience: AddClientResilience, telemetry: Telemetry) async throws -> Result<String, any Error> {

        let outcome: Result<String, any Error>
        switch self.transport {
        case .http:
            let client = HTTPClientTransport(telemetry: telemetry)
            let endpoints = try resilience.apply(to: AddEndpoints.http(client, baseURL: "http://\(self.httpAddress)").reachCounted())
            outcome = await self.run(endpoints)
            try await client.shutdown()
        case .nats:
            let client = try NATSClient(
                configuration: .init(servers: self.nats.split(separator: ",").map(String.init), name: "addcli", connectTimeout: .seconds(1)),
                telemetry: telemetry
            )
            let endpoints = try resilience.apply(to: AddEndpoints.nats(client).reachCounted())
            outcome = await withTaskGroup(of: Void.self) { group in
                group.addTask { try? await client.run() }
                defer { client.close() }
                return await self.run(endpoints)
            }
        case .thrift:
            let (host, port) = try Self.split(self.thriftAddress, flag: "--thrift-addr")
            let connection = ThriftConnection(
                configuration: .init(
                    host: host,
                    port: port,
                    serviceName: "AddService",
                    protocol: self.thriftProtocol,
                    transport: self.thriftTransport,
                    connectTimeout: .seconds(1)
                ),
                telemetry: telemetry
            )
            let endpoints = try resilience.apply(to: AddEndpoints.thrift(connection).reachCounted())
            outcome = await self.run(endpoints)
            connection.close()
        case .grpc:
            let (host, port) = try Self.split(self.grpcAddress, flag: "--grpc-addr")
            let connection = try GRPCConnection(configuration: .init(host: host, port: port), telemetry: telemetry)
            let endpoints = try resilience.apply(to: AddEndpoints.grpc(connection).reachCounted())
            outcome = await withTaskGroup(of: Void.self) { group in
                group.addTask { try? await connection.run() }
                defer { connection.close() }
                return await self.run(endpoints)
            }
        }
        return outcome
    }

    /// One call, or with `--repeat` the calls and their summary.
    private func run(_ endpoints: AddEndpoints) async -> Result<String, any Error> {
        guard let count = self.repeat else { return await Self.result { try await self.call(endpoints) } }
        let summary = await CallSummary.measure(calls: count, concurrency: self.concurrency, rate: self.rate) {
            try await self.call(endpoints)
        }
        return .success(summary.json)
    }

    private func call(_ endpoints: AddEndpoints) async throws -> String {
        switch self.method {
        case .sum:
            return String(try await endpoints.sum(SumRequest(a: Int(self.a) ?? 0, b: Int(self.b) ?? 0)).v)
        case .concat:
            return try await endpoints.concat(ConcatRequest(a: self.a, b: self.b)).v
        }
    }

    private static func result(_ body: () async throws -> String) async -> Result<String, any Error> {
        do {
            return .success(try await body())
        } catch {
            return .failure(error)
        }
    }

    static func split(_ address: String, flag: String) throws -> (String, Int) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
            (0...65535).contains(port)
        else {
            throw ValidationError("\(flag) must be host:port, not \(address)")
        }
        var host = String(address[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host, port)
    }
}

extension ThriftProtocol: ExpressibleByArgument {}
extension ThriftTransport: ExpressibleByArgument {}
