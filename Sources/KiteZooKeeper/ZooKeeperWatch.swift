/// A watch set by a read (``ZooKeeperClient/children(of:watch:)``): it fires once, when the node's
/// children (or data, or existence) change. While the connection is down it stays armed — the
/// client sets it again on the server when it reconnects within the session — and
/// ``next()`` reports the outage and the reconnection, so that a reader can say its view may be stale
/// and then read again.
public struct ZooKeeperWatch: Sendable {
    /// What a watch reports.
    public enum Notice: Sendable, Equatable {
        /// The watched node changed: the event's type (1 created, 2 deleted, 3 data changed,
        /// 4 children changed) and path.
        case fired(type: Int32, path: String)
        /// The connection is down; the watch stays armed.
        case disconnected
        /// The connection is back within the same session.
        case reconnected
    }

    let notices: AsyncStream<Result<Notice, ZooKeeperError>>

    /// The next notice; throws ``ZooKeeperError/sessionExpired`` (the watch is gone with its
    /// session) or ``ZooKeeperError/closed``, and `CancellationError` when the task is cancelled.
    public func next() async throws -> Notice {
        for await notice in self.notices {
            return try notice.get()
        }
        try Task.checkCancellation()
        throw ZooKeeperError.closed
    }
}
