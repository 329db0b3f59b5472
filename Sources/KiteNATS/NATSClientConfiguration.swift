extension NATSClient {
    /// Where a client connects and how it behaves when connections fail.
    public struct Configuration: Sendable {
        /// The servers, `nats://[user:password@|token@]host[:port]`; the client connects to them
        /// in turn, moving on when one fails.
        public var servers: [String]
        /// Credentials for servers whose URL carries none.
        public var authentication: NATSAuthentication?
        /// The name the client gives the server (in `CONNECT`, seen in the server's monitoring).
        public var name: String?
        /// How long a TCP connection and the protocol handshake may take. Default 2 s.
        public var connectTimeout: Duration
        /// How often the client pings the server. Default 2 minutes (as NATS's own clients).
        public var pingInterval: Duration
        /// How many pings may go unanswered before the connection counts as stale and is
        /// replaced. Default 2.
        public var maxOutstandingPings: Int
        /// The first wait between reconnection attempts; it doubles with each failure, up to
        /// ``maxReconnectWait``, and is jittered (a random half to whole of it). Default 50 ms.
        public var reconnectWait: Duration
        /// The longest wait between reconnection attempts. Default 2 s.
        public var maxReconnectWait: Duration
        /// How many bytes of outgoing messages are held while the connection is down (and sent
        /// once it is back), or while the socket cannot take more; past it, publishing fails with
        /// ``NATSError/reconnectBufferFull(limit:)`` and the message is counted as dropped.
        /// Default 8 MiB.
        public var reconnectBufferSize: Int
        /// How many received messages a subscription holds for a consumer that is behind; past
        /// it, new messages are dropped and counted (`slow_consumer`). Default 65,536.
        public var subscriptionBufferSize: Int
        /// The timeout of a request that does not give one. Default 5 s.
        public var requestTimeout: Duration
        /// The prefix of the client's reply subjects. Default `_INBOX`.
        public var inboxPrefix: String
        /// The largest message accepted from the server, headers and payload. Default 64 MiB
        /// (nats-server's own ceiling for `max_payload`).
        public var maxIncomingMessageSize: Int

        /// Creates a configuration.
        public init(
            servers: [String],
            authentication: NATSAuthentication? = nil,
            name: String? = nil,
            connectTimeout: Duration = .seconds(2),
            pingInterval: Duration = .seconds(120),
            maxOutstandingPings: Int = 2,
            reconnectWait: Duration = .milliseconds(50),
            maxReconnectWait: Duration = .seconds(2),
            reconnectBufferSize: Int = 8 << 20,
            subscriptionBufferSize: Int = 65536,
            requestTimeout: Duration = .seconds(5),
            inboxPrefix: String = "_INBOX",
            maxIncomingMessageSize: Int = 64 << 20
        ) {
            self.servers = servers
            self.authentication = authentication
            self.name = name
            self.connectTimeout = connectTimeout
            self.pingInterval = pingInterval
            self.maxOutstandingPings = maxOutstandingPings
            self.reconnectWait = reconnectWait
            self.maxReconnectWait = maxReconnectWait
            self.reconnectBufferSize = reconnectBufferSize
            self.subscriptionBufferSize = subscriptionBufferSize
            self.requestTimeout = requestTimeout
            self.inboxPrefix = inboxPrefix
            self.maxIncomingMessageSize = maxIncomingMessageSize
        }
    }
}

/// Credentials for a NATS server.
public enum NATSAuthentication: Sendable, Hashable {
    /// A user and password (`--user`/`--pass`, `authorization { user, password }`).
    case userPassword(user: String, password: String)
    /// A token (`--auth`, `authorization { token }`).
    case token(String)
}
