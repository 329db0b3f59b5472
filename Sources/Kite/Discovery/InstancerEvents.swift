/// The events of one subscription to an ``Instancer``.
///
/// Each event is the whole state, so a slow consumer only ever sees the latest one: events it has
/// not read yet are replaced, never queued.
public struct InstancerEvents: AsyncSequence, Sendable {
    public typealias Element = InstancerEvent
    public typealias Failure = Never

    let stream: AsyncStream<InstancerEvent>

    /// Wraps a stream of events.
    init(_ stream: AsyncStream<InstancerEvent>) {
        self.stream = stream
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: self.stream.makeAsyncIterator())
    }

    /// Reads the events of one subscription.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncStream<InstancerEvent>.AsyncIterator

        public mutating func next() async -> InstancerEvent? {
            await self.base.next()
        }

        public mutating func next(isolation actor: isolated (any Actor)?) async -> InstancerEvent? {
            await self.base.next(isolation: actor)
        }
    }
}
