import Foundation
import NIOCore
import NIOPosix

/// A real ZooKeeper 3.8 server (standalone) on 127.0.0.1, with its data in a temporary folder; it
/// can be killed and started again on the same port and data (sessions survive a restart within
/// their timeout: the server restores them from its log).
public final class ZooKeeperServer: @unchecked Sendable {
    // @unchecked: `process` is only replaced by start() and stop(), which a test calls in turn.
    /// The client port (chosen once, in `init`; a restart keeps it).
    public private(set) var port: Int
    private let directory: URL
    private let java: String
    private var process: Process?
    private var exited: AsyncStream<Void>?

    /// `127.0.0.1:<port>`.
    public var address: String { "127.0.0.1:\(self.port)" }

    /// Starts ZooKeeper on a free port and waits until it listens.
    ///
    /// A port found free can be taken before ZooKeeper binds it (by any connection's ephemeral
    /// port, under the parallel suite); ZooKeeper then exits with `BindException`, and the start
    /// is tried again on another port, twice at most.
    public init() async throws {
        self.java = try Peers.require("java")
        guard FileManager.default.fileExists(atPath: "/usr/share/java/zookeeper.jar") else {
            throw Peers.PeerMissing(program: "zookeeper (Debian package: /usr/share/java/zookeeper.jar)")
        }
        self.port = try freePort()
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("kite-zk-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.directory.appendingPathComponent("data"), withIntermediateDirectories: true)
        for attempt in 1... {
            try self.writeConfiguration()
            do {
                try await self.start()
                return
            } catch let error as PeerExitedEarly where attempt < 3 && error.portWasTaken {
                self.port = try freePort()
            }
        }
    }

    /// `forceSync=no`: transactions are not synced to disk before they are answered (under the
    /// loaded parallel suite a sync can take seconds). They are still written:
    /// a killed server's data survives in the page cache, which is all a restart test needs.
    private func writeConfiguration() throws {
        let config = """
            tickTime=1000
            forceSync=no
            dataDir=\(self.directory.appendingPathComponent("data").path)
            clientPort=\(self.port)
            clientPortAddress=127.0.0.1
            admin.enableServer=false
            maxSessionTimeout=60000
            4lw.commands.whitelist=ruok,stat
            """
        try config.write(to: self.directory.appendingPathComponent("zoo.cfg"), atomically: true, encoding: .utf8)
    }

    /// Starts the server (again) and waits until it listens on its port.
    public func start() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: self.java)
        process.arguments = [
            // slf4j-simple first: of the bindings in /usr/share/java it is the one that writes
            // (warnings and errors, to the log below), so an early exit says why.
            "-cp", "/usr/share/java/slf4j-simple.jar:/usr/share/java/zookeeper.jar:/usr/share/java/*",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-Dzookeeper.log.dir=\(self.directory.path)",
            "-Djava.net.preferIPv4Stack=true",  // listen on IPv4, where /proc/net/tcp shows it
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            self.directory.appendingPathComponent("zoo.cfg").path,
        ]
        let log = self.directory.appendingPathComponent("zk.log")
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
        let exitedEarly = { PeerExitedEarly(name: "ZooKeeper", log: (try? String(contentsOf: log, encoding: .utf8)) ?? "") }
        try await waitUntil(timeout: .seconds(60), "ZooKeeper to listen on port \(port)") {
            guard process.isRunning else { throw exitedEarly() }
            return DnsmasqServer.isListening(tcpPort: port, owner: process.processIdentifier)
        }
        // It listens before it serves (its data is still loading): a session asked for meanwhile
        // waits, and under the loaded parallel suite that took longer than a test's own waits.
        try await waitUntil(timeout: .seconds(60), "ZooKeeper to serve on port \(port)") {
            guard process.isRunning else { throw exitedEarly() }
            return try await Self.isServing(port: port)
        }
    }

    /// Whether the server on `port` serves requests: its `stat` command answers with its mode
    /// (a server still starting says it is "not currently serving requests").
    static func isServing(port: Int) async throws -> Bool {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(2))
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: "stat"))
            // The server closes the connection after its answer; one that never answers is given 2 s.
            return try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    var answer = ""
                    for try await chunk in inbound { answer += String(buffer: chunk) }
                    return answer.contains("Mode: ")
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(2))
                    return false
                }
                defer { group.cancelAll() }
                return try await group.next() ?? false
            }
        }
    }

    /// Kills the server (SIGKILL: a child of the test process may inherit SIGTERM blocked) and waits
    /// until it has exited and its port is free.
    public func stop() async throws {
        guard let process = self.process, let exited = self.exited else { return }
        self.process = nil
        self.exited = nil
        kill(process.processIdentifier, SIGKILL)
        for await _ in exited {}
        let port = self.port
        try await waitUntil("ZooKeeper's port to be free") { !DnsmasqServer.isListening(tcpPort: port) }
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

/// A peer that exited before it was ready; its log's end.
public struct PeerExitedEarly: Error, StopsWaiting, CustomStringConvertible {
    public let name: String
    public let log: String
    public var description: String { "\(self.name) exited:\n\(self.log.suffix(2000))" }

    /// Whether its log says that its port was in use: taken between `freePort()` and the peer's
    /// own bind (a start worth trying again on another port).
    public var portWasTaken: Bool { self.log.localizedCaseInsensitiveContains("address already in use") }
}
