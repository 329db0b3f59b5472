import Foundation

/// A TCP port on 127.0.0.1 that takes connections and never answers: the kernel completes each
/// connection into the listen backlog, and nothing reads it — a server still starting, or wedged.
public final class SilentListener: Sendable {
    /// The port clients connect to.
    public let port: Int
    private let fd: Int32

    /// Binds a port the system picks and listens on it.
    public init() throws {
        let (fd, port) = try bindLoopback(type: SOCK_STREAM)
        guard listen(fd, 16) == 0 else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        self.fd = fd
        self.port = port
    }

    /// `127.0.0.1:<port>`.
    public var address: String { "127.0.0.1:\(self.port)" }

    deinit {
        close(self.fd)
    }
}
