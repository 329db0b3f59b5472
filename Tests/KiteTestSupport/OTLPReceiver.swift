import Foundation

/// The Python OTLP receiver (`Tests/Peers/otlp_receiver.py`) on 127.0.0.1: decodes what Kite
/// sends with the upstream OpenTelemetry protobuf definitions and reports it as JSON.
public final class OTLPReceiver: @unchecked Sendable {
    // @unchecked: `process` and `port` change only in `init`/`stop()`/`restart()`, which tests call in sequence.
    /// The port it listens on: one the system picked at the first start, kept by restarts.
    public private(set) var port: Int
    /// Where the receiver writes each decoded body (for `protoc --decode`).
    public let dumpDirectory: URL
    private var process: Process?

    /// The base endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`).
    public var endpoint: String { "http://127.0.0.1:\(self.port)" }

    /// The folder of the test peers' scripts and `.proto` file.
    public static let peersDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Peers")

    /// Starts a receiver on `port` (default one the system picks, which the receiver reports) and
    /// waits until it answers.
    public init(port: Int? = nil) async throws {
        try await Self.requirePython()
        self.port = port ?? 0
        self.dumpDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("kite-otlp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.dumpDirectory, withIntermediateDirectories: true)
        try await self.start()
    }

    /// Fails (under CI) or throws ``Peers/PeerMissing`` when python3 or its OpenTelemetry packages are missing.
    public static func requirePython() async throws {
        let python = try Peers.require("python3")
        let check = try await runCommandAsync(python, ["-c", "import opentelemetry.proto, opentelemetry.sdk, google.protobuf"])
        guard check.status == 0 else {
            throw Peers.PeerMissing(program: "python3 packages opentelemetry-proto, opentelemetry-sdk, protobuf")
        }
    }

    private func start() async throws {
        let peer = try await PythonPeer.launch(
            "otlp_receiver.py",
            ["--port", String(self.port), "--dump", self.dumpDirectory.path]
        )
        self.process = peer.process
        let port = peer.port
        self.port = port
        try await waitUntil("the OTLP receiver to answer") {
            try await httpRequest("http://127.0.0.1:\(port)/received").status == 200
        }
    }

    /// Kills the receiver (the collector "dies"); the port is free until ``restart()``.
    public func stop() async throws {
        guard let process = self.process else { return }
        // SIGKILL: a child of the test process may inherit SIGTERM blocked.
        kill(process.processIdentifier, SIGKILL)
        try await waitUntil("the OTLP receiver to exit") { !process.isRunning }
        self.process = nil
    }

    /// Starts the receiver again on the same port, with nothing received.
    public func restart() async throws {
        try await self.stop()
        try await self.start()
    }

    /// Everything decoded so far.
    public func received() async throws -> OTLPReceived {
        let result = try await httpRequest("\(self.endpoint)/received")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(OTLPReceived.self, from: result.body)
    }

    /// Waits until what was received satisfies `condition`, and returns it.
    @discardableResult
    public func waitFor(_ what: String, timeout: Duration = .seconds(30), _ condition: @escaping (OTLPReceived) -> Bool) async throws -> OTLPReceived {
        let deadline = ContinuousClock.now + timeout
        while true {
            // A report that does not decode is an error at once, not a reason to wait.
            let received = try await self.received()
            if condition(received) { return received }
            guard ContinuousClock.now < deadline else {
                throw TimedOut(what: "\(what); received \(received.spans.count) spans, \(received.metrics.count) metrics, \(received.logs.count) log records, requests \(received.requests.map { "\($0.path) \($0.status)" })")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Tells the receiver how to answer next (see the script's documentation), as JSON.
    public func control(_ json: String) async throws {
        _ = try await httpRequest("\(self.endpoint)/control", method: "POST", body: Data(json.utf8))
    }

    /// How many requests the receiver holds unanswered (after a `{"hang": true}` control).
    public func held() async throws -> Int {
        let result = try await httpRequest("\(self.endpoint)/held")
        let json = try JSONSerialization.jsonObject(with: result.body) as? [String: Any]
        return json?["held"] as? Int ?? 0
    }

    /// Answers the held request.
    public func release() async throws {
        _ = try await httpRequest("\(self.endpoint)/release", method: "POST", body: Data())
    }

    /// The decoded bodies written so far for `signal` (`traces`, `metrics`, `logs`).
    public func dumpedBodies(_ signal: String) throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: self.dumpDirectory, includingPropertiesForKeys: nil)
            .filter { $0.lastPathComponent.hasPrefix("\(signal)-") }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    deinit {
        let dumpDirectory = self.dumpDirectory
        let cleanup: @Sendable () -> Void = { try? FileManager.default.removeItem(at: dumpDirectory) }
        if let process = self.process { ChildStopper.stop(process, signal: SIGKILL, grace: .zero, cleanup: cleanup) } else { cleanup() }
    }
}

/// What ``OTLPReceiver`` decoded, as its JSON report spells it.
public struct OTLPReceived: Decodable, Sendable {
    public var spans: [Span]
    public var metrics: [Metric]
    public var logs: [Log]
    public var requests: [Request]

    /// An `AnyValue`: exactly one member is set.
    public struct Value: Decodable, Sendable, Equatable {
        public var string: String?
        public var bool: Bool?
        public var int: Int64?
        public var double: Double?
        public var array: [Value]?
        public var kvlist: [String: Value]?

        public static func string(_ value: String) -> Value { Value(string: value) }
        public static func bool(_ value: Bool) -> Value { Value(bool: value) }
        public static func int(_ value: Int64) -> Value { Value(int: value) }
        public static func double(_ value: Double) -> Value { Value(double: value) }
        public static func array(_ values: [Value]) -> Value { Value(array: values) }
        public static func kvlist(_ values: [String: Value]) -> Value { Value(kvlist: values) }
    }

    public struct Span: Decodable, Sendable {
        public var resource: [String: String]
        public var scope: Scope
        public var traceId: String
        public var spanId: String
        public var parentSpanId: String
        public var traceState: String
        public var flags: UInt32
        public var name: String
        public var kind: Int
        public var start: UInt64
        public var end: UInt64
        public var attributes: [String: Value]
        public var droppedAttributes: Int
        public var events: [Event]
        public var droppedEvents: Int
        public var links: [Link]
        public var droppedLinks: Int
        public var status: Status
    }

    public struct Scope: Decodable, Sendable {
        public var name: String
        public var version: String
    }

    public struct Event: Decodable, Sendable {
        public var time: UInt64
        public var name: String
        public var attributes: [String: Value]
        public var droppedAttributes: Int
    }

    public struct Link: Decodable, Sendable {
        public var traceId: String
        public var spanId: String
        public var traceState: String
        public var flags: UInt32
        public var attributes: [String: Value]
        public var droppedAttributes: Int
    }

    public struct Status: Decodable, Sendable {
        public var code: Int
        public var message: String
    }

    public struct Metric: Decodable, Sendable {
        public var resource: [String: String]
        public var name: String
        public var description: String
        public var type: String
        public var temporality: Int?
        public var monotonic: Bool?
        public var points: [Point]
    }

    public struct Point: Decodable, Sendable {
        public var attributes: [String: String]
        public var start: UInt64
        public var time: UInt64
        public var value: Double?
        public var count: UInt64?
        public var sum: Double?
        public var hasSum: Bool?
        public var bucketCounts: [UInt64]?
        public var explicitBounds: [Double]?
        public var exemplars: [Exemplar]?
    }

    /// A histogram point's exemplar, its IDs in hex (empty when it has none).
    public struct Exemplar: Decodable, Sendable {
        public var traceId: String
        public var spanId: String
        public var time: UInt64
        public var value: Double
    }

    public struct Log: Decodable, Sendable {
        public var resource: [String: String]
        public var time: UInt64
        public var observedTime: UInt64
        public var severityNumber: Int
        public var severityText: String
        public var body: Value
        public var attributes: [String: Value]
        public var traceId: String
        public var spanId: String
        public var flags: UInt32
    }

    public struct Request: Decodable, Sendable {
        public var path: String
        public var status: Int
        public var contentType: String
        public var contentEncoding: String
        public var userAgent: String
        public var authorization: String
        public var wireBytes: Int
        public var time: Double
        /// The client's port: requests with the same one came over the same connection.
        public var peerPort: Int
        public var items: Int?
        /// Data points in a metrics request (also in one answered with a controlled status).
        public var points: Int?
        public var error: String?
    }
}
