import Foundation

/// A datagram socket — UDP on 127.0.0.1 at a port the system picks, or a Unix domain socket —
/// that plays the StatsD agent in the tests.
///
/// Like a real agent it reads all the time, on a thread of its own, from the moment it exists:
/// a Unix datagram socket holds only a few datagrams (`net.unix.max_dgram_qlen`), and one left
/// full is an outage for the exporter, which then drops (and counts) what it flushed. What it
/// reads waits in a queue for ``receiveLines(timeout:until:)``.
public final class DatagramReceiver: @unchecked Sendable {
    // @unchecked: `queue` and `stopped` are only touched under `condition`; the socket belongs
    // to the reader thread, which closes it when it stops.
    private let fd: Int32
    /// The UDP port it listens on (0 for a Unix socket).
    public let port: Int
    /// The Unix socket's path, if it is one.
    public let path: String?
    private let condition = NSCondition()
    private var queue: [[UInt8]] = []
    private var stopped = false
    /// Whether a reader thread reads the socket (and closes it).
    private let reads: Bool

    /// A Unix domain datagram socket at a new path in the temporary folder.
    public convenience init(unixSocket: Void) throws {
        try self.init(unixSocketPath: FileManager.default.temporaryDirectory.appendingPathComponent("kite-\(UUID().uuidString.prefix(8)).sock").path)
    }

    /// A Unix domain datagram socket at `path` (an agent started again binds the same path).
    /// With `reading` false it is bound but never read: an agent whose buffer fills.
    public init(unixSocketPath path: String, reading: Bool = true) throws {
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
        self.reads = reading
        if reading { self.startReading() }
    }

    /// A UDP socket on 127.0.0.1.
    public init() throws {
        (self.fd, self.port) = try bindLoopback(type: SOCK_DGRAM)
        self.path = nil
        self.reads = true
        self.startReading()
    }

    private func startReading() {
        let fd = self.fd
        Thread.detachNewThread { [weak self] in
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while let self, !self.isStopped {
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&poller, 1, 50) == 1 else { continue }
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard count >= 0 else { continue }
                self.condition.lock()
                self.queue.append(Array(buffer[0..<count]))
                self.condition.broadcast()
                self.condition.unlock()
            }
            close(fd)
        }
    }

    private var isStopped: Bool {
        self.condition.lock()
        defer { self.condition.unlock() }
        return self.stopped
    }

    /// Datagrams until `done` says the lines so far are enough, none arrives for 5 s, or
    /// `timeout` has passed in all (an agent fed every few milliseconds never falls silent).
    ///
    /// The waits run on a thread of their own, never on the threads that run tasks: a test
    /// waiting here must not starve the exporter it is waiting for.
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
        while !done(lines), ContinuousClock.now < deadline, let datagram = self.next(within: 5) {
            datagrams.append(datagram)
            lines += String(decoding: datagram, as: UTF8.self).split(separator: "\n").map(String.init)
        }
        return (lines, datagrams)
    }

    /// The next datagram read, waiting up to `seconds` for one.
    private func next(within seconds: TimeInterval) -> [UInt8]? {
        let limit = Date(timeIntervalSinceNow: seconds)
        self.condition.lock()
        defer { self.condition.unlock() }
        while self.queue.isEmpty {
            guard self.condition.wait(until: limit) else { return nil }
        }
        return self.queue.removeFirst()
    }

    /// Stops reading (the reader closes the socket within 50 ms; one that never read is closed
    /// now) and, for a Unix socket, removes
    /// its path at once: the agent is gone, and one started again can bind the path.
    public func stop() {
        self.condition.lock()
        let wasStopped = self.stopped
        self.stopped = true
        self.condition.unlock()
        guard !wasStopped else { return }
        if let path = self.path { unlink(path) }
        if !self.reads { close(self.fd) }
    }

    deinit {
        self.stop()
    }
}
