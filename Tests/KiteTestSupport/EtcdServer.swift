import Foundation

/// A real etcd server on 127.0.0.1, with its data in a temporary folder; it can be stopped and
/// started again on the same ports and data (an etcd restart).
public final class EtcdServer: @unchecked Sendable {
    // @unchecked: `process` is only replaced by start() and stop(), which a test calls in turn.
    /// The client port (the JSON gateway's; chosen once, in `init`: a restart keeps it).
    public private(set) var clientPort: Int
    private var peerPort: Int
    private let directory: URL
    private let binary: String
    private var process: Process?
    private var exited: AsyncStream<Void>?

    /// The client URL, `http://127.0.0.1:<port>`.
    public var url: String { "http://127.0.0.1:\(self.clientPort)" }

    /// Starts etcd on free ports and waits until it answers; on other ports and fresh data, twice
    /// at most, when a port found free was taken before etcd bound it.
    public init() async throws {
        self.binary = try Peers.require("etcd")
        self.clientPort = try freePort()
        self.peerPort = try freePort()
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("kite-etcd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        for attempt in 1... {
            do {
                try await self.start()
                return
            } catch let error as PeerExited where attempt < 3 && error.log.localizedCaseInsensitiveContains("address already in use") {
                // The member it began to create names the old peer URL.
                try? FileManager.default.removeItem(at: self.directory.appendingPathComponent("data"))
                self.clientPort = try freePort()
                self.peerPort = try freePort()
            }
        }
    }

    /// Starts etcd (again) and waits until it answers a range request.
    public func start() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: self.binary)
        let client = "http://127.0.0.1:\(self.clientPort)"
        let peer = "http://127.0.0.1:\(self.peerPort)"
        process.arguments = [
            "--name", "kite",
            "--data-dir", self.directory.appendingPathComponent("data").path,
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", "kite=\(peer)",
        ]
        let log = self.directory.appendingPathComponent("etcd.log")
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
        let url = self.url
        try await waitUntil("etcd to answer on \(url)") {
            guard process.isRunning else { throw PeerExited(log: (try? String(contentsOf: log, encoding: .utf8)) ?? "") }
            return try await httpRequest("\(url)/v3/kv/range", method: "POST", body: Data(#"{"key":"AA=="}"#.utf8)).status == 200
        }
    }

    /// Stops etcd (SIGTERM) and waits until it has exited.
    public func stop() async {
        guard let process = self.process, let exited = self.exited else { return }
        self.process = nil
        self.exited = nil
        kill(process.processIdentifier, SIGTERM)
        for await _ in exited {}
    }

    /// Runs `etcdctl` against this server; its standard output.
    public func etcdctl(_ arguments: String...) async throws -> String {
        let result = try await runCommandAsync(try Peers.require("etcdctl"), ["--endpoints=\(self.url)"] + arguments)
        guard result.status == 0 else { throw CommandFailed(result: result) }
        return result.standardOutput
    }

    public struct CommandFailed: Error, CustomStringConvertible {
        public let result: CommandResult
        public var description: String { "etcdctl failed (\(self.result.status)): \(self.result.standardError)" }
    }

    public struct PeerExited: Error, StopsWaiting, CustomStringConvertible {
        public let log: String
        public var description: String { "etcd exited:\n\(self.log.suffix(2000))" }
    }

    deinit {
        let directory = self.directory
        if let process = self.process {
            ChildStopper.stop(process) { try? FileManager.default.removeItem(at: directory) }
        } else {
            try? FileManager.default.removeItem(at: directory)
        }
    }
}
