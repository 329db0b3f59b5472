import Foundation

/// A TCP proxy (`Tests/Peers/tcp_proxy.py`) in front of a real server, whose connections a test can
/// cut while the server keeps running — a network failure between a client and its server.
public final class TCPProxy: @unchecked Sendable {
    // @unchecked: the process and pipes are set in init; commands are sent by one test in turn.
    /// The port clients connect to.
    public let port: Int
    private let process: Process
    private let input = Pipe()
    private let lines: OutputLines
    private var commands = 0

    /// Starts a proxy to `upstream` (`host:port`).
    public init(upstream: String) async throws {
        let peer = try await PythonPeer.launch("tcp_proxy.py", ["--upstream", upstream], input: self.input)
        self.process = peer.process
        self.port = peer.port
        self.lines = peer.lines
    }

    /// Closes every forwarded connection and refuses new ones until ``resume()``.
    public func cut() async throws {
        try await self.send("cut")
    }

    /// Forwards new connections again.
    public func resume() async throws {
        try await self.send("resume")
    }

    private func send(_ command: String) async throws {
        self.commands += 1
        let expected = self.commands
        self.input.fileHandleForWriting.write(Data("\(command)\n".utf8))
        let lines = self.lines
        try await waitUntil("the proxy to \(command)") { lines.all.filter { $0.hasSuffix(" ok") }.count >= expected }
    }

    deinit {
        kill(self.process.processIdentifier, SIGKILL)
    }
}
