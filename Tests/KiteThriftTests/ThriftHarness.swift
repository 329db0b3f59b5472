import Foundation
import Kite
import KiteTelemetry
import KiteTestSupport
import KiteThrift
import Synchronization
import Testing

/// The notes `Fire` received.
final class FiredNotes: Sendable {
    private let notes = Mutex<[String]>([])
    func append(_ note: String) { self.notes.withLock { $0.append(note) } }
    var all: [String] { self.notes.withLock { $0 } }
}

/// Kite's TestService: echoes, adds, finds (with declared exceptions), pings, fires.
func testServiceServer(
    _ configuration: ThriftEndpointServer.Configuration,
    pipeline: MemoryPipeline,
    fired: FiredNotes,
    onListening: @escaping @Sendable (Int) async -> Void
) -> ThriftEndpointServer {
    ThriftEndpointServer(configuration: configuration, telemetry: pipeline.telemetry, onListening: onListening) { routes in
        routes.method("Echo", Endpoint { (arguments: EchoArguments) in arguments.value })
        routes.method("Add", Endpoint { (arguments: AddArguments) in arguments.a + arguments.b })
        routes.method(
            "Find",
            Endpoint { (arguments: FindArguments) -> String in
                switch arguments.key {
                case "missing": throw NotFound(what: arguments.key, errorCode: 404)
                case "": throw Invalid(reason: "empty key")
                case "boom": throw RemoteError(code: .unavailable, message: "boom")
                default: return "found:" + arguments.key
                }
            }.instrumented("find", pipeline.telemetry),
            exceptions: findExceptions
        )
        routes.method("Ping", Endpoint { (_: NoArguments) in ThriftVoid() })
        routes.oneway("Fire", Endpoint { (arguments: FireArguments) in
            fired.append(arguments.note)
            return ThriftVoid()
        })
    }
}

/// Runs Kite's TestService on a port the system picks for the duration of `body`.
func withTestService<T: Sendable>(
    protocol: ThriftProtocol,
    transport: ThriftTransport,
    limits: ThriftLimits = ThriftLimits(),
    _ body: (_ port: Int, _ pipeline: MemoryPipeline, _ fired: FiredNotes) async throws -> T
) async throws -> T {
    let pipeline = MemoryPipeline(serviceName: "thrift-test")
    let fired = FiredNotes()
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    let server = testServiceServer(
        .init(host: "127.0.0.1", port: 0, serviceName: "TestService", protocol: `protocol`, transport: transport, limits: limits),
        pipeline: pipeline,
        fired: fired
    ) { continuation.yield($0) }
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.run() }
        defer { group.cancelAll() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        return try await body(port, pipeline, fired)
    }
}

/// The Python Thrift peer (`Tests/Peers/thrift_peer.py`).
enum PythonThrift {
    static var script: String { OTLPReceiver.peersDirectory.appendingPathComponent("thrift_peer.py").path }

    /// Runs one client mode; its JSON output.
    static func run(_ arguments: [String]) async throws -> [String: Any] {
        let result = try await runCommandAsync(try Peers.require("python3"), [Self.script] + arguments)
        guard result.status == 0, let line = result.standardOutput.split(separator: "\n").last,
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        else {
            throw Failed(description: "thrift_peer.py \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.standardError)")
        }
        return object
    }

    /// A Python Thrift server of `idl` ("test" or "addsvc"), running while the value lives.
    static func serve(_ idl: String, protocol: ThriftProtocol, transport: ThriftTransport) async throws -> PythonPeer {
        try await PythonPeer.launch("thrift_peer.py", ["serve", idl, `protocol`.rawValue, transport.rawValue])
    }

    struct Failed: Error, CustomStringConvertible {
        let description: String
    }
}

/// Every protocol with every transport.
let thriftCombinations: [(ThriftProtocol, ThriftTransport)] = [(.binary, .framed), (.binary, .buffered), (.compact, .framed), (.compact, .buffered)]
