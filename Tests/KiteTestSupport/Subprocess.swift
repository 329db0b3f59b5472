import Foundation

/// A finished command.
public struct CommandResult: Sendable {
    public var status: Int32
    public var standardOutput: String
    public var standardError: String
}

/// A child process with its pipes, read on threads of their own while it runs (Dispatch adds
/// worker threads for blocked ones only after a delay, and neither side may block on a full pipe).
private struct ChildProcess {
    let process = Process()
    let stdin = Pipe()
    private let output = LockedData()
    private let errors = LockedData()
    private let readers = DispatchGroup()

    init(_ executable: String, _ arguments: [String]) {
        self.process.executableURL = URL(fileURLWithPath: executable)
        self.process.arguments = arguments
        self.process.standardInput = self.stdin
        let stdout = Pipe()
        let stderr = Pipe()
        self.process.standardOutput = stdout
        self.process.standardError = stderr
        for (pipe, sink) in [(stdout, self.output), (stderr, self.errors)] {
            self.readers.enter()
            let readers = self.readers
            Thread.detachNewThread {
                sink.set(pipe.fileHandleForReading.readDataToEndOfFile())
                readers.leave()
            }
        }
    }

    /// Feeds `input` on standard input, then closes it.
    func feed(_ input: Data) {
        self.stdin.fileHandleForWriting.write(input)
        try? self.stdin.fileHandleForWriting.close()
    }

    /// The result, once both pipes have been read to their end.
    func result(status: Int32) -> CommandResult {
        self.readers.wait()
        return CommandResult(
            status: status,
            standardOutput: String(decoding: self.output.get(), as: UTF8.self),
            standardError: String(decoding: self.errors.get(), as: UTF8.self)
        )
    }

    /// Waits, without blocking, until both pipes have been read to their end.
    func pipesRead() async {
        await withCheckedContinuation { continuation in
            self.readers.notify(queue: .global()) { continuation.resume() }
        }
    }
}

final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func set(_ value: Data) { self.lock.withLock { self.data = value } }
    func get() -> Data { self.lock.withLock { self.data } }
}

/// A TCP port that was free a moment ago on 127.0.0.1 (for peers that cannot report the port
/// they bound to port 0).
public func freePort() throws -> Int {
    let (fd, port) = try bindLoopback(type: SOCK_STREAM)
    close(fd)
    return port
}

/// A socket of `type` bound to 127.0.0.1 at a port the system picks, and that port.
func bindLoopback(type: __socket_type) throws -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(type.rawValue), 0)
    guard fd >= 0 else { throw POSIXError(.EMFILE) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else {
        close(fd)
        throw POSIXError(.EADDRINUSE)
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}

/// An error that ends a ``waitUntil(timeout:_:condition:)`` at once (the awaited process died);
/// any other error thrown by the condition counts as "not yet".
public protocol StopsWaiting: Error {}

/// Polls `condition` until it holds or `timeout` passes; the wait ends as soon as it holds.
public func waitUntil(
    timeout: Duration = .seconds(30),
    _ what: String,
    condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while true {
        do {
            if try await condition() { return }
        } catch let error as any StopsWaiting {
            throw error
        } catch {}
        // The condition is asked once more after a sleep that overran the deadline: on a loaded
        // machine a task can resume seconds late, and the wait is for the condition, not the clock.
        guard ContinuousClock.now < deadline else { throw TimedOut(what: what) }
        try await Task.sleep(for: .milliseconds(50))
    }
}

public struct TimedOut: Error, CustomStringConvertible {
    public let what: String
    public init(what: String) { self.what = what }
    public var description: String { "timed out waiting for \(self.what)" }
}

/// Collects what a child process writes to a pipe, as lines, while it runs.
public final class OutputLines: @unchecked Sendable {
    // @unchecked: the buffer is only touched under `lock`.
    private let lock = NSLock()
    private var buffer = Data()

    public init() {}

    /// Starts collecting what is written to `pipe`.
    public func collect(from pipe: Pipe) {
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self else { return }
            self.lock.withLock { self.buffer.append(data) }
        }
    }

    /// Every complete or partial line so far.
    public var all: [String] {
        self.lock.withLock { String(decoding: self.buffer, as: UTF8.self) }.split(separator: "\n").map(String.init)
    }

    /// Every line ended by a newline so far (not the one still being written).
    public var completeLines: [String] {
        self.lock.withLock { () -> String in
            guard let end = self.buffer.lastIndex(of: UInt8(ascii: "\n")) else { return "" }
            return String(decoding: self.buffer[..<end], as: UTF8.self)
        }.split(separator: "\n").map(String.init)
    }

    /// Waits until a complete line starts with `prefix` and returns the rest of it. (A line still
    /// being written may have reached only part of its value: `listening ` without its port.)
    public func waitForLine(startingWith prefix: String, _ what: String) async throws -> String {
        var found = ""
        try await waitUntil(what) {
            guard let line = self.completeLines.first(where: { $0.hasPrefix(prefix) }) else { return false }
            found = String(line.dropFirst(prefix.count))
            return true
        }
        return found
    }
}

/// Runs a command to completion without blocking a cooperative thread while it runs — the pipes
/// are read on threads of their own and the exit is reported by the process's termination
/// handler — so that a test waiting for a child process leaves Swift's cooperative threads to the
/// servers it tests. (`Process.waitUntilExit` polls: it adds up to a second to every command.)
public func runCommandAsync(_ executable: String, _ arguments: [String], input: Data = Data()) async throws -> CommandResult {
    let child = ChildProcess(executable, arguments)
    let status: Int32 = try await withCheckedThrowingContinuation { continuation in
        child.process.terminationHandler = { process in
            continuation.resume(returning: process.terminationStatus)
        }
        do {
            try child.process.run()
        } catch {
            child.process.terminationHandler = nil
            continuation.resume(throwing: error)
            return
        }
        Thread.detachNewThread { child.feed(input) }
    }
    await child.pipesRead()
    return child.result(status: status)
}
