import Foundation

/// A Python peer of `Tests/Peers` that binds a port and then prints `listening PORT` — the OTLP
/// receiver, the Consul fake, the TCP proxy.
public struct PythonPeer {
    /// The running script.
    public let process: Process
    /// The port it reported.
    public let port: Int
    /// Everything it prints (commands' acknowledgements, say).
    public let lines: OutputLines

    /// Runs `script` with `arguments` (and `input` as its standard input) and waits until it
    /// reports its port. It binds first and then says where: no other process can take the port
    /// between.
    public static func launch(_ script: String, _ arguments: [String], input: Pipe? = nil) async throws -> PythonPeer {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Peers.require("python3"))
        process.arguments = [OTLPReceiver.peersDirectory.appendingPathComponent(script).path] + arguments
        let output = Pipe()
        let lines = OutputLines()
        lines.collect(from: output)
        process.standardOutput = output
        if let input { process.standardInput = input }
        try process.run()
        do {
            guard let port = Int(try await lines.waitForLine(startingWith: "listening ", "\(script) to report its port")) else {
                throw TimedOut(what: "the port of \(script)")
            }
            return PythonPeer(process: process, port: port, lines: lines)
        } catch {
            // Not left running: it holds the test process's standard error, and `swift test`
            // waits for that to close (SIGKILL: a child may inherit SIGTERM blocked).
            kill(process.processIdentifier, SIGKILL)
            throw error
        }
    }
}
