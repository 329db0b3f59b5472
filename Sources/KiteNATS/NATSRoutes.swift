import Kite
import NIOCore

/// The subjects a ``NATSEndpointServer`` answers on, each with its endpoint.
public struct NATSRoutes: Sendable {
    /// One served subject: how a message on it is answered.
    struct Route: Sendable {
        let subject: NATSServerInstrumentation.Subject
        let answer: @Sendable (NATSMessage) async -> (NATSHeaders?, ByteBuffer)
    }

    let instrumentation: NATSServerInstrumentation
    let defaultQueue: String?
    private(set) var routes: [Route] = []

    init(instrumentation: NATSServerInstrumentation, defaultQueue: String?) {
        self.instrumentation = instrumentation
        self.defaultQueue = defaultQueue
    }

    /// Answers requests on `subject` (wildcards allowed) with `endpoint`, through `codec`.
    /// - Parameter queue: The queue group the subscription joins; default the server's
    ///   ``NATSEndpointServer/Configuration/queueGroup``.
    public mutating func respond<Request: Sendable, Response: Sendable>(
        _ subject: String,
        _ endpoint: Endpoint<Request, Response>,
        codec: NATSCodec<Request, Response>,
        queue: String? = nil
    ) {
        let instruments = self.instrumentation.subject(subject, queue: queue ?? self.defaultQueue)
        let instrumentation = self.instrumentation
        self.routes.append(
            Route(subject: instruments) { message in
                await instrumentation.process(instruments, message: message) {
                    try codec.encode(try await endpoint(try codec.decode(message)))
                }
            }
        )
    }

    /// Answers requests on `subject` with `endpoint`: JSON in, JSON out.
    public mutating func respond<Request: Decodable & Sendable, Response: Encodable & Sendable>(
        _ subject: String,
        _ endpoint: Endpoint<Request, Response>,
        queue: String? = nil
    ) {
        self.respond(subject, endpoint, codec: .json, queue: queue)
    }
}
