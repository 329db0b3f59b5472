import Foundation

/// A real dnsmasq answering on 127.0.0.1 (UDP and TCP) from a list of `srv-host=` lines; it can be
/// restarted with another list (dnsmasq does not re-read `srv-host` lines on SIGHUP).
public final class DnsmasqServer: @unchecked Sendable {
    // @unchecked: `pid` is only replaced by start() and stop(), which a test calls in turn.
    /// The port it answers on.
    public private(set) var port = 0
    private let directory: URL
    private let binary: String
    private var pid: pid_t?

    /// `127.0.0.1:<port>`.
    public var address: String { "127.0.0.1:\(self.port)" }

    /// Starts dnsmasq with `lines` (its configuration, such as
    /// `srv-host=_sum._tcp.example.test,127.0.0.1,8081,0,10`) and waits until it listens.
    public init(_ lines: [String]) async throws {
        self.binary = try Peers.require("dnsmasq")
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("kite-dnsmasq-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        // A port free for TCP a moment ago may be taken for UDP (or taken since): try a few.
        var attempt = 0
        while true {
            attempt += 1
            self.port = try freePort()
            do {
                try await self.start(lines)
                return
            } catch is DnsmasqExited where attempt < 5 {
                continue
            }
        }
    }

    /// Starts dnsmasq (again) with `lines` and waits until it listens on its port (UDP and TCP).
    ///
    /// dnsmasq is started through `sh` and left as nobody's child: while it is a direct child of the
    /// test process, Foundation's `Process` stops noticing when other children exit (seen: a
    /// `terminationHandler` of a later child never ran until dnsmasq exited). It is stopped by its PID.
    /// (Its output goes nowhere: dnsmasq sends its own to /dev/null.)
    public func start(_ lines: [String]) async throws {
        let conf = self.directory.appendingPathComponent("dnsmasq.conf")
        try (lines.joined(separator: "\n") + "\n").write(to: conf, atomically: true, encoding: .utf8)
        let log = self.directory.appendingPathComponent("dnsmasq.log")
        // The test process's threads block most signals, and a blocked mask is inherited across
        // exec: dnsmasq would never see SIGTERM. Python clears the mask, then becomes dnsmasq.
        let unblock = "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])"
        let command = [
            try Peers.require("python3"), "-c", unblock,
            self.binary, "--keep-in-foreground", "--no-resolv", "--no-hosts", "--port=\(self.port)",
            "--listen-address=127.0.0.1", "--bind-interfaces", "--conf-file=\(conf.path)",
        ].map { "'\($0)'" }.joined(separator: " ")
        let result = try await runCommandAsync("/bin/sh", ["-c", "\(command) >>'\(log.path)' 2>&1 </dev/null & echo $!"])
        guard let pid = pid_t(result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw DnsmasqExited(log: result.standardError)
        }
        self.pid = pid
        let port = self.port
        try await waitUntil("dnsmasq to listen on port \(port)") {
            guard Self.isAlive(pid) else { throw DnsmasqExited(log: (try? String(contentsOf: log, encoding: .utf8)) ?? "") }
            return Self.isBound(port: port, owner: pid)
        }
    }

    /// Stops dnsmasq and waits until its port is free.
    public func stop() async throws {
        guard let pid = self.pid else { return }
        self.pid = nil
        kill(pid, SIGTERM)
        let port = self.port
        try await waitUntil("dnsmasq to stop") { !Self.isAlive(pid) && !Self.isListening(tcpPort: port) }
    }

    /// Whether `pid` runs (exists and is not a zombie).
    static func isAlive(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")")
        else { return false }
        return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first != "Z"
    }

    /// Whether 127.0.0.1:`port` has a UDP socket and a TCP socket that `owner` listens on
    /// (`/proc/net`).
    static func isBound(port: Int, owner: pid_t) -> Bool {
        let local = Self.local(port)
        let udp = Self.table("/proc/net/udp").contains { $0.count > 1 && $0[1] == local }
        return udp && Self.isListening(tcpPort: port, owner: owner)
    }

    /// Whether a TCP socket listens on 127.0.0.1:`port` (`/proc/net/tcp`).
    public static func isListening(tcpPort port: Int) -> Bool {
        !Self.listeningSockets(tcpPort: port).isEmpty
    }

    /// Whether the process `owner` listens on 127.0.0.1:`port` over TCP: a listening socket's
    /// inode (`/proc/net/tcp`) among the process's open files. The port alone is not enough: a
    /// port found free can be given to another test's server (one bound to port 0) while a peer
    /// starts, and the peer then fails to bind while the port listens — a ZooKeeper test once
    /// talked to such a server for 30 s ("connection to ZooKeeper lost").
    public static func isListening(tcpPort port: Int, owner: pid_t) -> Bool {
        let sockets = Self.listeningSockets(tcpPort: port)
        guard !sockets.isEmpty, let files = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(owner)/fd") else {
            return false
        }
        return files.contains { file in
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(owner)/fd/\(file)")).map(sockets.contains) ?? false
        }
    }

    /// The TCP sockets listening on 127.0.0.1:`port`, as a process's open files name them
    /// (`socket:[inode]`; `/proc/net/tcp`'s tenth column).
    private static func listeningSockets(tcpPort port: Int) -> [String] {
        let local = Self.local(port)
        return Self.table("/proc/net/tcp").compactMap { row in
            row.count > 9 && row[1] == local && row[3] == "0A" ? "socket:[\(row[9])]" : nil
        }
    }

    private static func local(_ port: Int) -> Substring {
        Substring(String(format: "0100007F:%04X", port))
    }

    private static func table(_ file: String) -> [[Substring]] {
        Self.readToEnd(file).split(separator: "\n").map { $0.split(separator: " ") }
    }

    /// The whole of a `/proc` file, read until the end. Foundation's `String(contentsOfFile:)`
    /// reads what one `read` gives — 4 KiB of `/proc/net/tcp`, about 27 sockets — so under the
    /// whole suite a listening peer was often past what it read (nats-server "not listening" for
    /// 30 s after it said it was ready).
    private static func readToEnd(_ file: String) -> String {
        let descriptor = open(file, O_RDONLY)
        guard descriptor >= 0 else { return "" }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes.append(contentsOf: chunk[..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public struct DnsmasqExited: Error, StopsWaiting, CustomStringConvertible {
        public let log: String
        public var description: String { "dnsmasq exited:\n\(self.log.suffix(2000))" }
    }

    deinit {
        if let pid = self.pid { kill(pid, SIGTERM) }
        try? FileManager.default.removeItem(at: self.directory)
    }
}
