import GRPCCore
import Kite
import NIOCore
import Synchronization

/// What Kite's gRPC engine hands a method's handler about its call.
struct GRPCServerCall: Sendable {
    /// The request metadata: every header but the pseudo-headers, `-bin` values decoded.
    var metadata: Metadata
    /// The caller's `grpc-timeout`, when it sent a valid one.
    var timeout: Duration?
    /// The caller's address and port.
    var peer: GRPCPeer?
    /// Set by the engine when it cancels the call, with the reason.
    let cancellation: GRPCCallCancellation
}

/// A caller's address and port, as the server span records them (`network.peer.address`,
/// `network.peer.port`): made once per connection, not per call.
struct GRPCPeer: Sendable {
    let address: String
    let port: Int

    init?(_ address: SocketAddress?) {
        guard let address, let ip = address.ipAddress, let port = address.port else { return nil }
        self.address = ip
        self.port = port
    }
}

/// Why the engine cancelled a call: the caller reset the stream or left (`CANCELLED`), or the
/// caller's deadline passed (`DEADLINE_EXCEEDED`). The first reason set stays.
final class GRPCCallCancellation: Sendable {
    private let reason = Atomic<Int>(-1)

    /// Marks the call cancelled for `code`; `false` when it was cancelled already.
    @discardableResult
    func cancel(_ code: ErrorCode) -> Bool {
        self.reason.compareExchange(expected: -1, desired: code.rawValue, ordering: .relaxed).exchanged
    }

    /// The reason the call was cancelled for, if it was.
    var code: ErrorCode? {
        let raw = self.reason.load(ordering: .relaxed)
        return raw < 0 ? nil : ErrorCode(rawValue: raw)
    }
}
