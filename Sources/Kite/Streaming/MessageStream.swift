/// A stream of messages into or out of a streaming endpoint: an `AsyncSequence` that may end with
/// an error, type-erased so that an endpoint names one type whatever produces its messages.
///
/// A server-streaming endpoint is an `Endpoint<Request, MessageStream<Reply>>`, a
/// client-streaming one an `Endpoint<MessageStream<Request>, Reply>`, a bidirectional one an
/// `Endpoint<MessageStream<Request>, MessageStream<Reply>>`; transports serve and call all of
/// them.
///
/// ```swift
/// let countdown = Endpoint { (from: Int) in
///     MessageStream((0...from).reversed().async)      // any AsyncSequence of Ints
/// }
/// ```
public struct MessageStream<Element: Sendable>: AsyncSequence, Sendable {
    public typealias Failure = any Error

    private let makeIterator: @Sendable () -> Iterator

    /// A stream of the elements of `base`.
    public init<Base: AsyncSequence & Sendable>(_ base: Base) where Base.Element == Element {
        self.makeIterator = { Iterator(base.makeAsyncIterator()) }
    }

    /// A stream of the elements of `base` that cancels `producer` once nothing reads it any more
    /// (the stream and every iterator made from it are gone): how a transport ties the call that
    /// feeds a stream to its reader.
    public init<Base: AsyncSequence & Sendable>(_ base: Base, cancelOnDrop producer: Task<Void, Never>) where Base.Element == Element {
        let owner = ProducerHandle(producer)
        self.makeIterator = { Iterator(base.makeAsyncIterator(), owner: owner) }
    }

    /// A stream of `elements`.
    public init(_ elements: [Element]) {
        self.init(ArrayStream(elements: elements))
    }

    /// A stream and the continuation that feeds it (an `AsyncThrowingStream`'s).
    public static func makeStream(
        bufferingPolicy: AsyncThrowingStream<Element, any Error>.Continuation.BufferingPolicy = .unbounded
    ) -> (stream: MessageStream, continuation: AsyncThrowingStream<Element, any Error>.Continuation) {
        let (stream, continuation) = AsyncThrowingStream<Element, any Error>.makeStream(bufferingPolicy: bufferingPolicy)
        return (MessageStream(stream), continuation)
    }

    public func makeAsyncIterator() -> Iterator {
        self.makeIterator()
    }

    /// Reads every element into an array.
    public func collect() async throws -> [Element] {
        var elements: [Element] = []
        for try await element in self { elements.append(element) }
        return elements
    }

    /// The stream's iterator.
    public struct Iterator: AsyncIteratorProtocol {
        private let box: any IteratorBox<Element>
        private let owner: ProducerHandle?

        init<Base: AsyncIteratorProtocol>(_ base: Base, owner: ProducerHandle? = nil) where Base.Element == Element {
            self.box = ConcreteIteratorBox(base: base)
            self.owner = owner
        }

        public mutating func next() async throws -> Element? {
            try await self.box.next()
        }
    }
}

/// Cancels the task that feeds a stream when the last reference to it goes.
final class ProducerHandle: Sendable {
    let producer: Task<Void, Never>

    init(_ producer: Task<Void, Never>) {
        self.producer = producer
    }

    deinit {
        self.producer.cancel()
    }
}

/// Holds a concrete iterator behind the type-erased one (iterators are advanced in place).
private protocol IteratorBox<Element>: AnyObject {
    associatedtype Element
    func next() async throws -> Element?
}

private final class ConcreteIteratorBox<Base: AsyncIteratorProtocol>: IteratorBox {
    var base: Base

    init(base: Base) {
        self.base = base
    }

    func next() async throws -> Base.Element? {
        try await self.base.next(isolation: nil)
    }
}

/// An array as an `AsyncSequence`.
private struct ArrayStream<Element: Sendable>: AsyncSequence, Sendable {
    let elements: [Element]

    func makeAsyncIterator() -> IndexingIterator<[Element]>.AsyncAdapter {
        .init(base: self.elements.makeIterator())
    }
}

extension IndexingIterator {
    /// A synchronous iterator as an asynchronous one.
    struct AsyncAdapter: AsyncIteratorProtocol {
        var base: IndexingIterator

        mutating func next() async -> Element? {
            self.base.next()
        }
    }
}
