import Foundation

/// The Python gRPC peer (`Tests/Peers/grpc_peer.py`, on grpcio): a client that calls a Kite gRPC
/// server with stubs generated from Kite's `.proto` files, and a server Kite's client calls.
public enum PythonGRPCPeer {
    /// The repository's root, where the `.proto` files are.
    public static let repositoryRoot = OTLPReceiver.peersDirectory.deletingLastPathComponent().deletingLastPathComponent()

    static var script: String { OTLPReceiver.peersDirectory.appendingPathComponent("grpc_peer.py").path }

    /// Fails (under CI) or throws ``Peers/PeerMissing`` when python3 or grpcio/grpcio-tools is missing.
    public static func require() async throws -> String {
        let python = try Peers.require("python3")
        let check = try await runCommandAsync(python, ["-c", "import grpc, grpc_tools"])
        guard check.status == 0 else { throw Peers.PeerMissing(program: "python3 packages grpcio, grpcio-tools") }
        return python
    }

    /// The stubs' folder, generated once per test process (every peer run reuses them). A task,
    /// not a lazily initialised constant: callers wait for it without blocking a thread.
    static let stubs = Task<String, any Error> {
        let python = try await require()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kite-grpc-stubs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let result = try await runCommandAsync(python, [script, "generate", "--root", repositoryRoot.path, "--stubs", folder])
        guard result.status == 0 else { throw PeerFailed(status: result.status, output: result.standardOutput + result.standardError) }
        return folder
    }

    /// One result the client reported.
    public struct Outcome: Decodable, Sendable {
        public var scenario: String
        public var ok: Bool
        public var code: String?
        public var details: String?
        private var value: JSONValue?

        /// The value, when it was an integer.
        public var int: Int? { if case .int(let value) = self.value { value } else { nil } }
        /// The value, when it was a string.
        public var string: String? { if case .string(let value) = self.value { value } else { nil } }
        /// The value, when it was a list of integers.
        public var ints: [Int]? { if case .ints(let value) = self.value { value } else { nil } }
    }

    enum JSONValue: Decodable, Sendable {
        case int(Int), string(String), ints([Int])

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let value = try? container.decode(Int.self) {
                self = .int(value)
            } else if let value = try? container.decode([Int].self) {
                self = .ints(value)
            } else {
                self = .string(try container.decode(String.self))
            }
        }
    }

    /// Runs the client's `scenario` against `127.0.0.1:port`; the outcomes by scenario name.
    public static func call(port: Int, scenario: String, traceparent: String? = nil) async throws -> [String: Outcome] {
        let python = try await self.require()
        var arguments = [
            self.script, "call", "--root", self.repositoryRoot.path, "--stubs", try await self.stubs.value,
            "--port", String(port), "--scenario", scenario,
        ]
        if let traceparent { arguments += ["--traceparent", traceparent] }
        let result = try await runCommandAsync(python, arguments)
        guard result.status == 0 else {
            throw PeerFailed(status: result.status, output: result.standardOutput + result.standardError)
        }
        var outcomes: [String: Outcome] = [:]
        for line in result.standardOutput.split(separator: "\n") {
            let outcome = try JSONDecoder().decode(Outcome.self, from: Data(line.utf8))
            outcomes[outcome.scenario] = outcome
        }
        return outcomes
    }

    /// The peer failed.
    public struct PeerFailed: Error, CustomStringConvertible {
        public let status: Int32
        public let output: String
        public var description: String { "grpc_peer.py exited with \(self.status): \(self.output)" }
    }

    /// A running Python gRPC server of go-kit's `pb.Add`.
    public final class Server: @unchecked Sendable {
        // @unchecked: `process` and `input` are set in init and used by `stop()` once.
        private let process = Process()
        private let input = Pipe()
        private let lines = OutputLines()
        /// The port it listens on.
        public private(set) var port = 0

        /// One call the server received.
        public struct Call: Decodable, Sendable {
            public var method: String
            public var metadata: [String: String]
            public var time_remaining: Double?
        }

        /// Starts the server and waits for its port.
        public init() async throws {
            let python = try await PythonGRPCPeer.require()
            self.process.executableURL = URL(fileURLWithPath: python)
            self.process.arguments = [
                PythonGRPCPeer.script, "serve", "--root", PythonGRPCPeer.repositoryRoot.path, "--stubs", try await PythonGRPCPeer.stubs.value,
            ]
            let output = Pipe()
            self.lines.collect(from: output)
            self.process.standardOutput = output
            self.process.standardInput = self.input
            try self.process.run()
            guard let port = Int(try await self.lines.waitForLine(startingWith: "port ", "the Python gRPC server to report its port")) else {
                throw TimedOut(what: "the Python gRPC server's port")
            }
            self.port = port
        }

        /// The calls received so far.
        public var calls: [Call] {
            self.lines.all.filter { $0.hasPrefix("{") }.compactMap { try? JSONDecoder().decode(Call.self, from: Data($0.utf8)) }
        }

        /// Stops the server (it exits when its standard input closes; SIGTERM makes sure).
        public func stop() {
            try? self.input.fileHandleForWriting.close()
            ChildStopper.stop(self.process, grace: .seconds(5))
        }

        deinit {
            ChildStopper.stop(self.process, signal: SIGKILL, grace: .zero)
        }
    }
}
