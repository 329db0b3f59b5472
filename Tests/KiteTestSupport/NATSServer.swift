import Foundation

/// A real nats-server on 127.0.0.1; it can be killed and started again on the same port (a
/// server restart under load).
public final class NATSServer: @unchecked Sendable {
    // @unchecked: `process` is only replaced by start() and stop(), which a test calls in turn.
    /// The client port (chosen once, in `init`; a restart keeps it).
    public private(set) var port: Int
    private let arguments: [String]
    private let directory: URL
    private let binary: String
    private var process: Process?
    private var exited: AsyncStream<Void>?

    /// `nats://127.0.0.1:<port>`.
    public var url: String { "nats://127.0.0.1:\(self.port)" }

    /// Starts nats-server on a free port and waits until it listens; on another port, twice at
    /// most, when the one found free was taken before the server bound it.
    /// - Parameters:
    ///   - arguments: More command-line arguments (`--user a --pass b`).
    ///   - configuration: The text of a configuration file (`max_payload: 1024`), if any.
    public init(arguments: [String] = [], configuration: String? = nil) async throws {
        self.binary = try Peers.require("nats-server")
        self.port = try freePort()
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("kite-nats-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        var arguments = arguments
        if let configuration {
            let file = self.directory.appendingPathComponent("nats.conf")
            try configuration.write(to: file, atomically: true, encoding: .utf8)
            arguments += ["-c", file.path]
        }
        self.arguments = arguments
        for attempt in 1... {
            do {
                try await self.start()
                return
            } catch let error as PeerExitedEarly where attempt < 3 && error.portWasTaken {
                self.port = try freePort()
            }
        }
    }

    /// Starts the server (again) and waits until it listens on its port.
    public func start() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: self.binary)
        process.arguments = ["-a", "127.0.0.1", "-p", String(self.port)] + self.arguments
        let log = self.directory.appendingPathComponent("nats.log")
        if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        let (exited, exit) = AsyncStream<Void>.makeStream()
        process.terminationHandler = { _ in exit.finish() }
        try process.run()
        self.process = process
        self.exited = exited
        let port = self.port
        try await waitUntil("nats-server to listen on port \(port)") {
            guard process.isRunning else { throw PeerExitedEarly(name: "nats-server", log: (try? String(contentsOf: log, encoding: .utf8)) ?? "") }
            return DnsmasqServer.isListening(tcpPort: port, owner: process.processIdentifier)
        }
    }

    /// Stops the server's process (SIGSTOP): connections stay open and nothing is answered.
    public func pause() throws {
        guard let process = self.process else { throw PeerExitedEarly(name: "nats-server", log: "not running") }
        kill(process.processIdentifier, SIGSTOP)
    }

    /// Lets a paused server run again (SIGCONT).
    public func resume() throws {
        guard let process = self.process else { throw PeerExitedEarly(name: "nats-server", log: "not running") }
        kill(process.processIdentifier, SIGCONT)
    }

    /// Kills the server (SIGKILL: a child of the test process may inherit SIGTERM blocked) and
    /// waits until it has exited and its port is free.
    public func stop() async throws {
        guard let process = self.process, let exited = self.exited else { return }
        self.process = nil
        self.exited = nil
        kill(process.processIdentifier, SIGKILL)
        for await _ in exited {}
        let port = self.port
        try await waitUntil("nats-server's port to be free") { !DnsmasqServer.isListening(tcpPort: port) }
    }

    deinit {
        let directory = self.directory
        if let process = self.process {
            ChildStopper.stop(process, signal: SIGKILL, grace: .zero) { try? FileManager.default.removeItem(at: directory) }
        } else {
            try? FileManager.default.removeItem(at: directory)
        }
    }
}
