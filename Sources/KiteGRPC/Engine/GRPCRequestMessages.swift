import NIOCore

/// The request messages of a streaming call as its handler reads them: the one message of a
/// server-streaming call, or the messages of a client or bidirectional stream as they arrive.
///
/// A stream is read with back-pressure: while the handler has not taken the messages already
/// received (up to a few), the engine stops reading the HTTP/2 stream, so HTTP/2 flow control
/// holds the caller back.
struct GRPCRequestMessages: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    typealias Failure = any Error
    typealias Stream = NIOThrowingAsyncSequenceProducer<
        ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, GRPCReadDemand
    >

    private enum Source: Sendable {
        case single(ByteBuffer)
        case stream(Stream)
    }

    private let source: Source

    /// The one message of a call.
    static func single(_ message: ByteBuffer) -> Self { Self(source: .single(message)) }

    /// The messages `stream` delivers.
    static func stream(_ stream: Stream) -> Self { Self(source: .stream(stream)) }

    func makeAsyncIterator() -> AsyncIterator {
        switch self.source {
        case .single(let message): AsyncIterator(single: message, stream: nil)
        case .stream(let stream): AsyncIterator(single: nil, stream: stream.makeAsyncIterator())
        }
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var single: ByteBuffer?
        var stream: Stream.AsyncIterator?

        mutating func next() async throws -> ByteBuffer? {
            if let stream {
                return try await stream.next()
            }
            defer { self.single = nil }
            return self.single
        }
    }
}

/// Asks the HTTP/2 stream for more once the handler has taken what it was given.
struct GRPCReadDemand: NIOAsyncSequenceProducerDelegate {
    let resume: @Sendable () -> Void

    func produceMore() {
        self.resume()
    }

    func didTerminate() {}
}
