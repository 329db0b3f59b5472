import Foundation
import Kite
import KiteHTTP
import KiteTelemetry
import KiteTestSupport
import Logging
import ServiceLifecycle
import Testing

/// A gate an endpoint waits at until the test opens it.
final class Gate: Sendable {
    private let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation
    private let (enteredStream, enteredContinuation) = AsyncStream<Void>.makeStream()

    init() {
        (self.stream, self.continuation) = AsyncStream<Void>.makeStream()
    }

    /// Called by the endpoint: says it is in, then waits for the gate to open.
    func pass() async {
        self.enteredContinuation.yield()
        for await _ in self.stream { return }
    }

    /// Waits until a request is at the gate.
    func waitForArrival() async {
        for await _ in self.enteredStream { return }
    }

    func open() {
        self.continuation.yield()
        self.continuation.finish()
    }
}

@Suite("HTTP server graceful shutdown")
struct GracefulShutdownTests {
    static func group(_ server: HTTPServer, _ telemetry: Telemetry) -> ServiceGroup {
        ServiceGroup(configuration: .init(services: [.init(service: server)], logger: telemetry.makeLogger(label: "kite.test")))
    }

    @Test("a request in flight when shutdown begins is answered; the service turns not ready at once")
    func inFlightFinishes() async throws {
        var configuration = TelemetryConfiguration(serviceName: "shutdown", environment: [:])
        configuration.logOutput = InMemoryLogOutput()
        configuration.scrapeListener = nil
        let telemetry = Telemetry(configuration: configuration)
        let gate = Gate()
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let server = HTTPServer(
            configuration: .init(host: "127.0.0.1", port: 0),
            telemetry: telemetry,
            onListening: { continuation.yield($0) }
        ) { routes in
            routes.post("/slow", Endpoint { (request: Echo) in
                await gate.pass()
                return request
            })
        }
        let group = Self.group(server, telemetry)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            #expect(server.readiness.isReady)
            async let answer = post("http://127.0.0.1:\(port)/slow", #"{"s":"in flight"}"#)
            await gate.waitForArrival()
            await group.triggerGracefulShutdown()
            try await waitUntil("the service to turn not ready") { !server.readiness.isReady }
            gate.open()
            let result = try await answer
            #expect(result.status == 200)
            #expect(result.text == #"{"s":"in flight"}"#)
            try await tasks.next()  // the group ends once the request is answered
        }
    }

    @Test("a request still in flight at the shutdown deadline does not hold the server: run returns after the deadline")
    func deadlineBoundsShutdown() async throws {
        var configuration = TelemetryConfiguration(serviceName: "shutdown", environment: [:])
        let logs = InMemoryLogOutput()
        configuration.logOutput = logs
        configuration.scrapeListener = nil
        let telemetry = Telemetry(configuration: configuration)
        let gate = Gate()
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let server = HTTPServer(
            configuration: .init(host: "127.0.0.1", port: 0, shutdownTimeout: .milliseconds(300)),
            telemetry: telemetry,
            onListening: { continuation.yield($0) }
        ) { routes in
            routes.post("/stuck", Endpoint { (request: Echo) in
                await gate.pass()  // never opened
                return request
            })
        }
        let group = Self.group(server, telemetry)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            tasks.addTask { _ = try? await post("http://127.0.0.1:\(port)/stuck", #"{"s":"x"}"#) }
            await gate.waitForArrival()
            await group.triggerGracefulShutdown()
            try await tasks.next()  // the group: returns although the request never finished
            // Let the stuck handler go, so that the client gets its answer or its error and the
            // test's own task ends.
            gate.open()
        }
        telemetry.logSink.flush()
        #expect(logs.lines.contains { $0.contains("after graceful shutdown began were cancelled") })
    }

    @Test("connections that never sent a byte (idle, or half-closed) do not hold graceful shutdown", .enabled(if: Peers.isAvailable("python3")))
    func silentConnectionsClose() async throws {
        var configuration = TelemetryConfiguration(serviceName: "shutdown", environment: [:])
        let logs = InMemoryLogOutput()
        configuration.logOutput = logs
        configuration.scrapeListener = nil
        let telemetry = Telemetry(configuration: configuration)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let server = HTTPServer(
            configuration: .init(host: "127.0.0.1", port: 0, shutdownTimeout: .seconds(2)),
            telemetry: telemetry,
            onListening: { continuation.yield($0) }
        ) { _ in }
        let group = Self.group(server, telemetry)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            // One connection stays open without a byte; another shuts its sending side at once.
            let holder = Process()
            holder.executableURL = URL(fileURLWithPath: try Peers.require("python3"))
            holder.arguments = ["-c", """
                import socket, sys, time
                idle = socket.create_connection(("127.0.0.1", \(port)))
                half = socket.create_connection(("127.0.0.1", \(port)))
                half.shutdown(socket.SHUT_WR)
                print("connected", flush=True)
                time.sleep(30)
                """]
            let output = Pipe()
            let lines = OutputLines()
            lines.collect(from: output)
            holder.standardOutput = output
            try holder.run()
            defer { holder.terminate() }
            _ = try await lines.waitForLine(startingWith: "connected", "the connections to open")
            await group.triggerGracefulShutdown()
            try await tasks.next()
        }
        // Shutdown finished on its own: the silent connections were closed, not waited for
        // until the deadline (which would have logged that it cancelled them).
        telemetry.logSink.flush()
        #expect(!logs.lines.contains { $0.contains("were cancelled") })
    }
}
