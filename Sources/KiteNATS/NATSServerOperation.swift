/// One operation a NATS server sends (internal to the client; open to Kite's benchmarks).
@_spi(Benchmarks)
public enum NATSServerOperation: Sendable {
    /// `INFO {…}`.
    case info(NATSServerInfo)
    /// `MSG`/`HMSG`: a message for subscription `sid`.
    case message(sid: Int, NATSMessage)
    /// `PING`: answer with `PONG`.
    case ping
    /// `PONG`: the answer to our `PING`.
    case pong
    /// `+OK` (only in verbose mode, which Kite does not ask for).
    case ok
    /// `-ERR 'message'`.
    case error(String)
}
