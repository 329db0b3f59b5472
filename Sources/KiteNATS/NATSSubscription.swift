/// The messages of one subscription, as an async sequence.
///
/// ```swift
/// let orders = try nats.subscribe(to: "orders.>", queue: "workers")
/// for await message in orders { … }
/// ```
///
/// Ending the iteration (or dropping the sequence) unsubscribes. A consumer that falls behind
/// by more than ``NATSClient/Configuration/subscriptionBufferSize`` messages loses the newest
/// ones (counted as `slow_consumer` drops).
public struct NATSSubscription: AsyncSequence, Sendable {
    public typealias Element = NATSMessage

    /// The subject subscribed to.
    public let subject: String
    /// The queue group, if any.
    public let queue: String?
    let sid: Int
    let messages: AsyncStream<NATSMessage>
    let client: NATSClient

    public func makeAsyncIterator() -> AsyncStream<NATSMessage>.AsyncIterator {
        self.messages.makeAsyncIterator()
    }

    /// Unsubscribes now; the sequence ends after the messages it holds.
    public func unsubscribe() {
        self.client.unsubscribe(sid: self.sid)
    }

    /// Unsubscribes once `count` messages in all have arrived (`UNSUB <sid> <count>`); the
    /// sequence then ends.
    public func unsubscribe(after count: Int) {
        self.client.unsubscribe(sid: self.sid, after: count)
    }

    /// Unsubscribes and ends the sequence once the messages the server sent before it saw the
    /// unsubscription have arrived — none is lost (a queue group's member that leaves still
    /// handles what was routed to it). Returns when the sequence has its last message.
    public func drain(timeout: Duration = .seconds(5)) async {
        await self.client.drain(sid: self.sid, timeout: timeout)
    }
}
