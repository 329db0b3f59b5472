import Kite
import NIOCore

/// The methods a ``ThriftEndpointServer`` serves, each with its endpoint.
public struct ThriftRoutes: Sendable {
    /// One served method: how a call of it is answered.
    struct Route: Sendable {
        let oneway: Bool
        /// The reply message (not framed) for a call whose header has been read; `nil` for a
        /// one-way call.
        let answer: @Sendable (_ header: ThriftMessageHeader, _ reader: ThriftReader, _ peer: String?) async -> ByteBuffer?
    }

    let instrumentation: ThriftServerInstrumentation
    let `protocol`: ThriftProtocol
    private(set) var routes: [String: Route] = [:]

    init(instrumentation: ThriftServerInstrumentation, protocol: ThriftProtocol) {
        self.instrumentation = instrumentation
        self.protocol = `protocol`
    }

    /// Serves the method `name` with `endpoint`: the request is the method's arguments struct
    /// (its coding keys the parameters' ids), the response its result; errors that are one of
    /// `exceptions` are answered as those declared exceptions, any other as a
    /// `TApplicationException` (see ``ThriftApplicationError``).
    public mutating func method<Request: Decodable & Sendable, Response: Encodable & Sendable>(
        _ name: String,
        _ endpoint: Endpoint<Request, Response>,
        exceptions: ThriftExceptions = .none
    ) {
        let method = self.instrumentation.method(name)
        let instrumentation = self.instrumentation
        let wire = self.protocol
        self.routes[name] = Route(oneway: false) { header, reader, peer in
            do {
                let response = try await instrumentation.serve(method, context: Self.context(in: reader), peer: peer) {
                    try await endpoint(try Self.arguments(Request.self, from: reader))
                }
                return try ThriftCallCoding.reply(response, header: header, protocol: wire)
            } catch {
                if let (id, exception) = exceptions.field(for: error),
                    let reply = try? ThriftCallCoding.reply(exception: exception, id: id, header: header, protocol: wire)
                {
                    return reply
                }
                return ThriftCallCoding.exception(ThriftApplicationError.answering(error), header: header, protocol: wire)
            }
        }
    }

    /// Serves the one-way method `name` with `endpoint`: nothing is answered, whatever happens.
    public mutating func oneway<Request: Decodable & Sendable>(_ name: String, _ endpoint: Endpoint<Request, ThriftVoid>) {
        let method = self.instrumentation.method(name)
        let instrumentation = self.instrumentation
        self.routes[name] = Route(oneway: true) { _, reader, peer in
            _ = try? await instrumentation.serve(method, context: Self.context(in: reader), peer: peer) {
                try await endpoint(try Self.arguments(Request.self, from: reader))
            }
            return nil
        }
    }

    private static func context(in reader: ThriftReader) -> [String: String] {
        (try? ThriftCallCoding.context(in: reader)) ?? [:]
    }

    /// The arguments struct as `Request`; what is wrong with it as a ``ThriftProtocolError``.
    private static func arguments<Request: Decodable>(_ type: Request.Type, from reader: ThriftReader) throws -> Request {
        do {
            return try ThriftValueCoding.read(type, wireType: .struct, from: ThriftReaderBox(reader))
        } catch let error as DecodingError {
            throw ThriftProtocolError(ThriftCallCoding.describe(error))
        }
    }
}
