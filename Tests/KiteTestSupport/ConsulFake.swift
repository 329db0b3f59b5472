import Foundation

/// The Consul conformance fake (`Tests/Peers/consul_fake.py`) on 127.0.0.1 — no Consul server
/// installs here. It can be restarted on the same port with no state (an agent that lost its state).
public final class ConsulFake: @unchecked Sendable {
    // @unchecked: `process` and `port` change only in init/restart, which a test calls in sequence.
    /// The port it listens on: the system picks it at the first start; restarts keep it.
    public private(set) var port = 0
    private var process: Process?

    /// The agent's URL, `http://127.0.0.1:<port>`.
    public var url: String { "http://127.0.0.1:\(self.port)" }

    /// Starts the fake and waits until it answers.
    public init() async throws {
        try await self.start()
    }

    private func start() async throws {
        let peer = try await PythonPeer.launch("consul_fake.py", ["--port", String(self.port)])
        self.process = peer.process
        let port = peer.port
        self.port = port
        try await waitUntil("the Consul fake to answer") {
            try await httpRequest("http://127.0.0.1:\(port)/fake/requests").status == 200
        }
    }

    /// Kills the fake and starts it again on the same port, with nothing registered.
    public func restart() async throws {
        if let process = self.process {
            // SIGKILL: a child of the test process may inherit SIGTERM blocked.
            kill(process.processIdentifier, SIGKILL)
            try await waitUntil("the Consul fake to exit") { !process.isRunning }
        }
        try await self.start()
    }

    /// Sets the fake's index back to 1, as a Consul that lost its state would answer.
    public func resetIndex() async throws {
        _ = try await httpRequest("\(self.url)/fake/reset-index", method: "POST")
    }

    deinit {
        if let process = self.process { kill(process.processIdentifier, SIGKILL) }
    }
}
