import AddService
import Foundation
import Kite
import KiteNATS
import KiteTelemetry
import KiteTestSupport
import Logging
import ServiceLifecycle
import Testing

/// A client configuration for tests: quick reconnects.
func testConfiguration(_ server: NATSServer, _ change: (inout NATSClient.Configuration) -> Void = { _ in }) -> NATSClient.Configuration {
    var configuration = NATSClient.Configuration(
        servers: [server.url],
        reconnectWait: .milliseconds(20),
        maxReconnectWait: .milliseconds(250)
    )
    change(&configuration)
    return configuration
}

/// Runs `client` for the duration of `body` (connected first, unless told not to wait), then closes it.
func withClient<T: Sendable>(
    _ client: NATSClient,
    waitForConnection: Bool = true,
    _ body: () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await client.run() }
        defer { client.close() }
        if waitForConnection { try await within(.seconds(30), "the NATS client to connect") { try await client.waitUntilConnected() } }
        return try await body()
    }
}

/// A NATS client of its own, run for the duration of `body`.
func withClient<T: Sendable>(
    _ server: NATSServer,
    pipeline: MemoryPipeline = MemoryPipeline(serviceName: "caller"),
    configure: (inout NATSClient.Configuration) -> Void = { _ in },
    _ body: (NATSClient) async throws -> T
) async throws -> T {
    let client = try NATSClient(configuration: testConfiguration(server, configure), telemetry: pipeline.telemetry)
    return try await withClient(client) { try await body(client) }
}

/// addsvc answering over NATS in this process.
struct RunningResponder: Sendable {
    let pipeline: MemoryPipeline
    let client: NATSClient
    let readiness: Readiness
    let group: ServiceGroup

    /// How many `sum` calls it processed with `errorType` ("" for successes).
    func processed(errorType: String = "") -> Double {
        self.pipeline.value(
            #"messaging_process_duration_seconds_count{messaging_system="nats",messaging_operation_name="process",messaging_destination_name="addsvc.sum",error_type="\#(errorType)"}"#
        ) ?? 0
    }
}

/// Runs addsvc's NATS responder (client and server in one service group) for the duration of `body`.
func withResponder<T: Sendable>(
    _ server: NATSServer,
    pipeline: MemoryPipeline = MemoryPipeline(serviceName: "addsvc"),
    service: some AddService = BasicAddService(),
    _ body: (RunningResponder) async throws -> T
) async throws -> T {
    let client = try NATSClient(configuration: testConfiguration(server), telemetry: pipeline.telemetry)
    let readiness = Readiness()
    let endpoints = AddEndpoints(service: service, telemetry: pipeline.telemetry)
    let responder = NATSEndpointServer.addService(endpoints, client: client, telemetry: pipeline.telemetry, readiness: readiness)
    let group = ServiceGroup(
        configuration: .init(services: [.init(service: client), .init(service: responder)], logger: pipeline.telemetry.logger)
    )
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        do {
            try await within(.seconds(30), "the responder to be ready") {
                for await ready in readiness.changes() where ready { return }
            }
            let result = try await body(RunningResponder(pipeline: pipeline, client: client, readiness: readiness, group: group))
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return result
        } catch {
            tasks.cancelAll()
            throw error
        }
    }
}

/// Runs `body`, failing with ``TimedOut`` when it takes longer than `timeout`.
func within<T: Sendable>(_ timeout: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        guard let result = try await group.next(), let value = result else { throw TimedOut(what: what) }
        return value
    }
}

/// The Python peer (`Tests/Peers/nats_peer.py`, on nats-py).
enum PythonNATS {
    private static var script: String { OTLPReceiver.peersDirectory.appendingPathComponent("nats_peer.py").path }

    /// One request from Python; its answer's payload and headers, or its error.
    struct Answer: Decodable {
        let data: String?
        let headers: [String: String]?
        let error: String?
    }

    static func request(_ url: String, _ subject: String, _ payload: String, traceparent: String? = nil) async throws -> Answer {
        let result = try await runCommandAsync(try Peers.require("python3"), [Self.script, "request", url, subject, payload] + (traceparent.map { [$0] } ?? []))
        guard result.status == 0, let line = result.standardOutput.split(separator: "\n").last else {
            throw CommandFailed(result: result)
        }
        return try JSONDecoder().decode(Answer.self, from: Data(line.utf8))
    }

    /// A Python responder running until `stop()`.
    final class Responder: @unchecked Sendable {
        // @unchecked: set once in start, then only read.
        let process: Process
        let input: Pipe

        private init(process: Process, input: Pipe) {
            self.process = process
            self.input = input
        }

        static func start(_ url: String, _ subject: String, mode: String = "respond", queue: String? = nil) async throws -> Responder {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try Peers.require("python3"))
            process.arguments = [PythonNATS.script, mode, url, subject] + (queue.map { [$0] } ?? [])
            let output = Pipe()
            let input = Pipe()
            let lines = OutputLines()
            lines.collect(from: output)
            process.standardOutput = output
            process.standardInput = input
            try process.run()
            _ = try await lines.waitForLine(startingWith: "ready", "the Python NATS responder to subscribe")
            return Responder(process: process, input: input)
        }

        deinit {
            try? self.input.fileHandleForWriting.close()
            ChildStopper.stop(self.process, signal: SIGKILL, grace: .zero)
        }
    }

    struct CommandFailed: Error, CustomStringConvertible {
        let result: CommandResult
        var description: String { "nats_peer.py failed (\(self.result.status)): \(self.result.standardError)" }
    }
}
