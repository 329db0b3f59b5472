import Foundation

/// A datagram socket — UDP on 127.0.0.1 at a port the system picks, or a Unix domain socket —
/// that plays the StatsD agent in the tests.
public final class DatagramReceiver: @unchecked Sendable {
    private var fd: Int32
    /// The UDP port it listens on (0 for a Unix socket).
    public let port: Int
    /// The Unix socket's path, if it is one.
    public let path: String?

    /// A Unix domain datagram socket at a new path in the temporary folder.
    public convenience init(unixSocket: Void) throws {
        try self.init(unixSocketPath: FileManager.default.temporaryDirectory.appendingPathComponent("kite-\(UUID().uuidString.prefix(8)).sock").path)
    }

    /// A Unix domain datagram socket at `path` (an agent started again binds the same path).
    public init(unixSocketPath path: String) throws {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.prefix(raw.count - 1).enumerated() { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        self.fd = fd
        self.port = 0
        self.path = path
    }

    /// A UDP socket on 127.0.0.1.
    public init() throws {
        (self.fd, self.port) = try bindLoopback(type: SOCK_DGRAM)
        self.path = nil
    }

    /// The next datagram, or `nil` when none arrives within `timeoutMilliseconds`.
    public func receive(timeoutMilliseconds: Int32 = 5000) -> [UInt8]? {
        guard self.fd >= 0 else { return nil }
        var poller = pollfd(fd: self.fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, timeoutMilliseconds) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let count = buffer.withUnsafeMutableBytes { recv(self.fd, $0.baseAddress, $0.count, 0) }
        return count >= 0 ? Array(buffer[0..<count]) : nil
    }

    /// Datagrams until `done` says the lines so far are enough, a receive times out, or
    /// `timeout` has passed in all (an agent fed every few milliseconds never falls silent).
    ///
    /// The blocking receives run on a thread of their own, never on the threads that run tasks:
    /// a test waiting here must not starve the exporter it is waiting for.
    public func receiveLines(
        timeout: Duration = .seconds(20),
        until done: @escaping @Sendable ([String]) -> Bool
    ) async -> (lines: [String], datagrams: [[UInt8]]) {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: self.blockingReceiveLines(timeout: timeout, until: done))
            }
        }
    }

    private func blockingReceiveLines(timeout: Duration, until done: ([String]) -> Bool) -> (lines: [String], datagrams: [[UInt8]]) {
        let deadline = ContinuousClock.now + timeout
        var lines: [String] = []
        var datagrams: [[UInt8]] = []
        while !done(lines), ContinuousClock.now < deadline, let datagram = self.receive() {
            datagrams.append(datagram)
            lines += String(decoding: datagram, as: UTF8.self).split(separator: "\n").map(String.init)
        }
        return (lines, datagrams)
    }

    /// Closes the socket and, for a Unix socket, removes its path: the agent is gone.
    public func stop() {
        guard self.fd >= 0 else { return }
        close(self.fd)
        self.fd = -1
        if let path = self.path { unlink(path) }
    }

    deinit {
        self.stop()
    }
}
