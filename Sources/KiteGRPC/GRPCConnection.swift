import AsyncAlgorithms
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import Kite
import KiteTelemetry
import ServiceLifecycle
import SwiftProtobuf

/// A connection to a gRPC server whose methods are called as Kite endpoints — go-kit's gRPC
/// client transport, with streaming.
///
/// ```swift
/// let connection = try GRPCConnection(configuration: .init(host: "127.0.0.1", port: 8082), telemetry: telemetry)
/// let sum = connection.unary(
///     Pb_Add.Method.Sum.descriptor,
///     encode: { (request: SumRequest) in Pb_SumRequest.with { $0.a = request.a; $0.b = request.b } },
///     decode: { (reply: Pb_SumReply) in SumResponse(v: reply.v) }
/// )
/// try await ServiceGroup(services: [telemetry, connection, server], logger: telemetry.logger).run()
/// ```
///
/// The endpoints are ordinary ``Endpoint``s: the same middleware (the one decorator, breakers,
/// retries) wraps them. Each call carries the caller's trace context in its metadata and the
/// time left before the caller's deadline as `grpc-timeout`; a status the server answers with
/// comes back as a ``RemoteError`` (or the service's own error, see
/// ``GRPCClientOptions/decodeError``). Calls made before ``run()`` starts wait for it.
///
/// Run it in the service group before the servers whose endpoints call through it: the group
/// shuts down in reverse order, so it stops after them and their calls in flight finish.
public final class GRPCConnection: Service {
    /// Where to connect.
    public struct Configuration: Sendable {
        /// The server's host: a name (resolved by DNS) or an IP address.
        public var host: String
        /// The server's port.
        public var port: Int
        /// The largest response message accepted, in bytes. Default 4 MiB.
        public var maxResponseMessageSize: Int

        /// Creates a configuration.
        public init(host: String, port: Int, maxResponseMessageSize: Int = 4 << 20) {
            self.host = host
            self.port = port
            self.maxResponseMessageSize = maxResponseMessageSize
        }
    }

    /// The configuration.
    public let configuration: Configuration
    let client: GRPCClient<HTTP2ClientTransport.Posix>
    let instrumentation: GRPCClientInstrumentation

    /// Creates a connection; it connects when ``run()`` starts.
    /// - Throws: When the host cannot be used as a target.
    public init(configuration: Configuration, telemetry: Telemetry) throws {
        guard (0...65535).contains(configuration.port) else {
            throw GRPCServerError.portOutOfRange(configuration.port)
        }
        self.configuration = configuration
        let target: any ResolvableTarget =
            if configuration.host.contains(":") {
                .ipv6(address: configuration.host, port: configuration.port)
            } else {
                .dns(host: configuration.host, port: configuration.port)
            }
        let transport = try HTTP2ClientTransport.Posix(target: target, transportSecurity: .plaintext)
        self.client = GRPCClient(transport: transport)
        self.instrumentation = GRPCClientInstrumentation(
            telemetry: telemetry,
            serverAddress: configuration.host,
            serverPort: configuration.port
        )
    }

    /// Keeps the connection until graceful shutdown, then lets the calls in flight finish.
    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await self.client.runConnections()
        } onGracefulShutdown: {
            self.client.beginGracefulShutdown()
        }
    }

    /// Stops the connection once the calls in flight have finished (for use outside a service group).
    public func close() {
        self.client.beginGracefulShutdown()
    }

    private func callOptions(_ options: CallOptions) -> CallOptions {
        var options = options
        options.maxResponseMessageBytes = self.configuration.maxResponseMessageSize
        return options
    }

    /// The unary method `method` as an endpoint.
    public func unary<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message, Request: Sendable, Response: Sendable>(
        _ method: MethodDescriptor,
        encode: @escaping @Sendable (Request) throws -> Input,
        decode: @escaping @Sendable (Output) throws -> Response,
        options: GRPCClientOptions = .init()
    ) -> Kite.Endpoint<Request, Response> {
        let instruments = self.instrumentation.method(method)
        return Kite.Endpoint { request in
            try await self.instrumentation.call(instruments, options: options) { metadata, callOptions, _ in
                try await self.client.unary(
                    request: ClientRequest(message: try encode(request), metadata: metadata),
                    descriptor: method,
                    serializer: ProtobufSerializer<Input>(),
                    deserializer: ProtobufDeserializer<Output>(),
                    options: self.callOptions(callOptions)
                ) { response in
                    options.runAfter(response.accepted.map(\.metadata))
                    return try decode(try response.message)
                }
            }
        }
    }

    /// The client-streaming method `method` as an endpoint: the requests are read from the
    /// stream the caller passes and sent as they come.
    public func clientStreaming<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message, Request: Sendable, Response: Sendable>(
        _ method: MethodDescriptor,
        encode: @escaping @Sendable (Request) throws -> Input,
        decode: @escaping @Sendable (Output) throws -> Response,
        options: GRPCClientOptions = .init()
    ) -> Kite.Endpoint<MessageStream<Request>, Response> {
        let instruments = self.instrumentation.method(method)
        return Kite.Endpoint { requests in
            try await self.instrumentation.call(instruments, options: options) { metadata, callOptions, span in
                try await self.client.clientStreaming(
                    request: Self.streamingRequest(requests, metadata: metadata, encode: encode, span: span),
                    descriptor: method,
                    serializer: ProtobufSerializer<Input>(),
                    deserializer: ProtobufDeserializer<Output>(),
                    options: self.callOptions(callOptions)
                ) { response in
                    options.runAfter(response.accepted.map(\.metadata))
                    let reply = try decode(try response.message)
                    span.messageReceived()
                    return reply
                }
            }
        }
    }

    /// The server-streaming method `method` as an endpoint returning the stream of responses.
    ///
    /// The call runs while the caller reads the stream (a slow reader slows the server through
    /// HTTP/2 flow control; nothing is buffered without bound) and is cancelled when the caller
    /// drops the stream. Its errors — a status the server answered with — arrive through the
    /// stream; the span and the metric cover the whole stream.
    public func serverStreaming<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message, Request: Sendable, Response: Sendable>(
        _ method: MethodDescriptor,
        encode: @escaping @Sendable (Request) throws -> Input,
        decode: @escaping @Sendable (Output) throws -> Response,
        options: GRPCClientOptions = .init()
    ) -> Kite.Endpoint<Request, MessageStream<Response>> {
        let streaming = self.bidirectionalStreaming(method, encode: encode, decode: decode, options: options)
        return Kite.Endpoint { request in
            try await streaming(MessageStream([request]))
        }
    }

    /// The bidirectional-streaming method `method` as an endpoint: requests are read from the
    /// stream the caller passes, responses arrive on the stream it returns (as for
    /// ``serverStreaming(_:encode:decode:options:)``).
    public func bidirectionalStreaming<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message, Request: Sendable, Response: Sendable>(
        _ method: MethodDescriptor,
        encode: @escaping @Sendable (Request) throws -> Input,
        decode: @escaping @Sendable (Output) throws -> Response,
        options: GRPCClientOptions = .init()
    ) -> Kite.Endpoint<MessageStream<Request>, MessageStream<Response>> {
        let instruments = self.instrumentation.method(method)
        return Kite.Endpoint { requests in
            let channel = AsyncThrowingChannel<Response, any Error>()
            let call = Task {
                do {
                    try await self.instrumentation.call(instruments, options: options) { metadata, callOptions, span in
                        try await self.client.bidirectionalStreaming(
                            request: Self.streamingRequest(requests, metadata: metadata, encode: encode, span: span),
                            descriptor: method,
                            serializer: ProtobufSerializer<Input>(),
                            deserializer: ProtobufDeserializer<Output>(),
                            options: self.callOptions(callOptions)
                        ) { response in
                            options.runAfter(response.accepted.map(\.metadata))
                            for try await message in response.messages {
                                span.messageReceived()
                                await channel.send(try decode(message))
                                try Task.checkCancellation()
                            }
                        }
                    }
                    channel.finish()
                } catch {
                    channel.fail(error)
                }
            }
            return MessageStream(channel, cancelOnDrop: call)
        }
    }

    /// The outgoing stream of a client- or bidirectional-streaming call: `requests`, encoded, each
    /// an event on the call's span.
    private static func streamingRequest<Input: SwiftProtobuf.Message, Request: Sendable>(
        _ requests: MessageStream<Request>,
        metadata: Metadata,
        encode: @escaping @Sendable (Request) throws -> Input,
        span: GRPCCallSpan
    ) -> StreamingClientRequest<Input> {
        StreamingClientRequest(metadata: metadata) { writer in
            for try await request in requests {
                try await writer.write(try encode(request))
                span.messageSent()
            }
        }
    }
}
