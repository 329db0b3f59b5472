import GRPCCore
import Kite
import KiteTelemetry
import SwiftProtobuf

/// The methods a ``GRPCEndpointServer`` serves: endpoints bound to gRPC methods, with functions
/// between the protobuf messages and the endpoints' requests and responses.
///
/// ```swift
/// GRPCEndpointServer(configuration: .init(port: 8082), telemetry: telemetry) { routes in
///     routes.unary(Pb_Add.Method.Sum.descriptor, endpoints.sum,
///                  decode: { (message: Pb_SumRequest) in SumRequest(a: message.a, b: message.b) },
///                  encode: { response in Pb_SumReply.with { $0.v = response.v } })
/// }
/// ```
///
/// A decode function that throws answers `INVALID_ARGUMENT` (unless it throws a
/// ``ServiceError`` of another code); the endpoint's errors are answered under Kite's error model.
public struct GRPCRoutes: Sendable {
    /// The methods by their `:path` (`/package.Service/Method`).
    private(set) var methodsByPath: [String: GRPCServedMethod] = [:]
    let instrumentation: GRPCServerInstrumentation

    init(telemetry: Telemetry) {
        self.instrumentation = GRPCServerInstrumentation(telemetry: telemetry)
    }

    /// The methods registered so far.
    public var methods: [MethodDescriptor] { self.methodsByPath.values.map(\.descriptor) }

    /// Serves `endpoint` as the unary method `method`.
    public mutating func unary<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message, Request, Response>(
        _ method: MethodDescriptor,
        _ endpoint: Kite.Endpoint<Request, Response>,
        decode: @escaping @Sendable (Input) throws -> Request,
        encode: @escaping @Sendable (Response) throws -> Output,
        options: GRPCServerOptions = .init()
    ) {
        let instrumentation = self.instrumentation
        let instruments = instrumentation.method(method)
        self.add(GRPCServedMethod(descriptor: method, clientStreams: false, handler: .unary { message, call in
            try await instrumentation.serve(instruments, call: call, options: options) { _ in
                let request = try Self.decodeRequest(try GRPCMessageCoding.decode(Input.self, from: message), with: decode)
                return try GRPCMessageCoding.frame(try encode(try await endpoint(request)))
            }
        }))
    }

    /// Serves `endpoint` as the server-streaming method `method`: one request, a stream of
    /// responses.
    public mutating func serverStreaming<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message, Request, Response>(
        _ method: MethodDescriptor,
        _ endpoint: Kite.Endpoint<Request, MessageStream<Response>>,
        decode: @escaping @Sendable (Input) throws -> Request,
        encode: @escaping @Sendable (Response) throws -> Output,
        options: GRPCServerOptions = .init()
    ) {
        self.register(method, Input.self, Output.self, clientStreams: false, options: options) { messages, writer, span in
            let request = try Self.decodeRequest(try await Self.single(messages), with: decode)
            span.messageReceived()
            for try await response in try await endpoint(request) {
                try Task.checkCancellation()  // the caller left: stop producing
                try await writer.write(try encode(response))
                span.messageSent()
            }
        }
    }

    /// Serves `endpoint` as the client-streaming method `method`: a stream of requests, one
    /// response.
    public mutating func clientStreaming<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message, Request, Response>(
        _ method: MethodDescriptor,
        _ endpoint: Kite.Endpoint<MessageStream<Request>, Response>,
        decode: @escaping @Sendable (Input) throws -> Request,
        encode: @escaping @Sendable (Response) throws -> Output,
        options: GRPCServerOptions = .init()
    ) {
        self.register(method, Input.self, Output.self, clientStreams: true, options: options) { messages, writer, span in
            let requests = Self.decodedStream(messages, decode: decode, span: span)
            try await writer.write(try encode(try await endpoint(requests)))
            span.messageSent()
        }
    }

    /// Serves `endpoint` as the bidirectional-streaming method `method`.
    public mutating func bidirectionalStreaming<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message, Request, Response>(
        _ method: MethodDescriptor,
        _ endpoint: Kite.Endpoint<MessageStream<Request>, MessageStream<Response>>,
        decode: @escaping @Sendable (Input) throws -> Request,
        encode: @escaping @Sendable (Response) throws -> Output,
        options: GRPCServerOptions = .init()
    ) {
        self.register(method, Input.self, Output.self, clientStreams: true, options: options) { messages, writer, span in
            let requests = Self.decodedStream(messages, decode: decode, span: span)
            for try await response in try await endpoint(requests) {
                try Task.checkCancellation()  // the caller left: stop producing
                try await writer.write(try encode(response))
                span.messageSent()
            }
        }
    }

    /// Registers a method whose handler reads `messages` and writes to `writer`, inside the
    /// instrumentation. The engine cancels the handler's task when the call ends early (the
    /// caller left, its deadline passed, the server's shutdown deadline passed).
    mutating func register<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message>(
        _ method: MethodDescriptor,
        _ input: Input.Type,
        _ output: Output.Type,
        clientStreams: Bool,
        traced: Bool = true,
        options: GRPCServerOptions,
        handler: @escaping @Sendable (RPCAsyncSequence<Input, any Error>, RPCWriter<Output>, GRPCCallSpan) async throws -> Void
    ) {
        let instrumentation = self.instrumentation
        let instruments = instrumentation.method(method)
        self.add(GRPCServedMethod(descriptor: method, clientStreams: clientStreams, handler: .streaming { messages, writer, call in
            let decoded = RPCAsyncSequence<Input, any Error>(wrapping: messages.map { try GRPCMessageCoding.decode(Input.self, from: $0) })
            let (_, trailers) = try await instrumentation.serve(instruments, call: call, options: options, traced: traced) { span in
                try await handler(decoded, RPCWriter(wrapping: GRPCMessageWriter<Output>(writer: writer)), span)
            }
            return trailers
        }))
    }

    private mutating func add(_ method: GRPCServedMethod) {
        self.methodsByPath["/\(method.descriptor.service.fullyQualifiedService)/\(method.descriptor.method)"] = method
    }

    /// The one message of a unary request.
    static func single<Input>(_ messages: RPCAsyncSequence<Input, any Error>) async throws -> Input {
        for try await message in messages {
            return message
        }
        throw RPCError(code: .invalidArgument, message: "the call carried no request message")
    }

    /// Decodes a request; a decoder's own error that is not a ``ServiceError`` is the caller's
    /// malformed message: `INVALID_ARGUMENT`.
    static func decodeRequest<Input, Request>(_ message: Input, with decode: (Input) throws -> Request) throws -> Request {
        do {
            return try decode(message)
        } catch let error as any ServiceError {
            throw error
        } catch let error as RPCError {
            throw error
        } catch {
            throw RPCError(code: .invalidArgument, message: "malformed request: \(error)")
        }
    }

    /// The request stream as the endpoint sees it: decoded, each message an event on the span.
    static func decodedStream<Input: Sendable, Request: Sendable>(
        _ messages: RPCAsyncSequence<Input, any Error>,
        decode: @escaping @Sendable (Input) throws -> Request,
        span: GRPCCallSpan
    ) -> MessageStream<Request> {
        MessageStream(messages.map { message in
            span.messageReceived()
            return try Self.decodeRequest(message, with: decode)
        })
    }
}

/// Serializes a streaming call's responses onto its ``GRPCResponseWriter``.
struct GRPCMessageWriter<Output: SwiftProtobuf.Message>: RPCWriterProtocol {
    let writer: GRPCResponseWriter

    func write(_ element: Output) async throws {
        try await self.writer.write(try GRPCMessageCoding.frame(element))
    }

    func write(contentsOf elements: some Sequence<Output>) async throws {
        for element in elements {
            try await self.write(element)
        }
    }
}
