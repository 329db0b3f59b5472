import AsyncHTTPClient
import HTTPTypes
import Kite
import KiteTelemetry
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization

/// Calls remote HTTP services as Kite endpoints, on one AsyncHTTPClient shared by every
/// endpoint made from it — go-kit's HTTP client transport.
///
/// ```swift
/// let http = HTTPClientTransport(telemetry: telemetry)
/// let sum: Endpoint<SumRequest, SumResponse> = http.post("http://127.0.0.1:8081/sum")
/// try await ServiceGroup(services: [telemetry, http, server], logger: telemetry.logger).run()
/// ```
///
/// Make one per process and run it in the service group before the servers whose endpoints call
/// through it: the group shuts down in reverse order, so the client closes after their calls in
/// flight have finished. Each call carries the caller's trace context in its headers (by the
/// pipeline's propagators: `traceparent`/`tracestate`/`baggage`, or B3), runs for at most the
/// time left before the caller's deadline or ``HTTPClientOptions/timeout``, and is recorded in a
/// client span and `http_client_request_duration_seconds`. An answer outside 2xx comes back as a
/// ``RemoteError`` read from Kite's error body (or the service's own error, see
/// ``HTTPClientOptions/decodeError``); a call that got no answer as a `RemoteError` too,
/// `DEADLINE_EXCEEDED` for a timeout and `UNAVAILABLE` otherwise.
public final class HTTPClientTransport: Service {
    /// The AsyncHTTPClient the endpoints share.
    public let client: HTTPClient
    let instrumentation: HTTPClientInstrumentation
    private let isShutDown = Atomic<Bool>(false)

    /// Kite's default client configuration: AsyncHTTPClient's, except that a connection that
    /// cannot be established fails the call at once (`UNAVAILABLE`) instead of being retried
    /// until the call's deadline — retrying, and choosing another instance, is the job of the
    /// retry middleware and the load balancer, which see the failure.
    public static var defaultConfiguration: HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        return configuration
    }

    /// Creates the transport and its client, on NIO's shared event loops.
    ///
    /// The client's own tracing is turned off, whatever `configuration` says: Kite records each
    /// call's client span and sends its trace context itself. (AsyncHTTPClient takes the tracer
    /// bootstrapped when its configuration is made; after `Telemetry.bootstrap` it would add a
    /// second client span under Kite's for every call and send that one's context instead.)
    /// - Parameters:
    ///   - telemetry: The pipeline calls are recorded in.
    ///   - configuration: AsyncHTTPClient's configuration. Default ``defaultConfiguration``.
    public init(telemetry: Telemetry, configuration: HTTPClient.Configuration = HTTPClientTransport.defaultConfiguration) {
        var configuration = configuration
        configuration.tracing.tracer = nil
        self.client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        self.instrumentation = HTTPClientInstrumentation(telemetry: telemetry)
    }

    deinit {
        // A transport dropped without shutdown (a test that threw half-way, a script that
        // forgot) still releases its client, without blocking.
        if !self.isShutDown.exchange(true, ordering: .acquiringAndReleasing) {
            self.client.shutdown { _ in }
        }
    }

    /// Waits for graceful shutdown, then shuts the client down.
    public func run() async throws {
        try? await gracefulShutdown()
        try await self.shutdown()
    }

    /// Shuts the client down (for use outside a service group); later calls do nothing.
    public func shutdown() async throws {
        guard !self.isShutDown.exchange(true, ordering: .acquiringAndReleasing) else { return }
        try await self.client.shutdown()
    }

    /// The route `method url` as an endpoint, with `codec` between the endpoint's types and HTTP.
    public func endpoint<Request: Sendable, Response: Sendable>(
        _ method: HTTPRequest.Method,
        _ url: String,
        codec: HTTPClientCodec<Request, Response>,
        options: HTTPClientOptions = .init()
    ) -> Endpoint<Request, Response> {
        let route = self.instrumentation.route(method: method.rawValue, url: url)
        // The endpoint holds the transport (not only its client): a transport dropped while its
        // endpoints live on must not shut their client down.
        return Endpoint { [self] request in
            let client = self.client
            let instrumentation = self.instrumentation
            var outgoing = HTTPClientRequest(url: url)
            outgoing.method = HTTPMethod(rawValue: method.rawValue)
            try codec.encode(request, &outgoing)
            let bodySize = BodySize()
            return try await instrumentation.call(route, request: outgoing, options: options, body: { outgoing, timeout in
                let response = try await client.execute(outgoing, timeout: .nanoseconds(timeout.clampedNanoseconds))
                for after in options.after { after(response) }
                let status = Int(response.status.code)
                let body: ByteBuffer
                do {
                    body = try await response.body.collect(upTo: options.maxResponseBodySize)
                } catch is NIOTooManyBytesError {
                    throw HTTPClientCallFailure(status: status, error: HTTPClientCallError.responseTooLarge(limit: options.maxResponseBodySize))
                }
                bodySize.value = body.readableBytes
                guard (200..<300).contains(status) else {
                    var remote = codec.decodeError(response, body)
                    if remote.retryAfter == nil { remote.retryAfter = RetryAfterHeader.parse(response.headers.first(name: "retry-after")) }
                    throw HTTPClientCallFailure(status: status, error: options.decodeError(remote))
                }
                do {
                    return (status, try codec.decode(response, body))
                } catch {
                    throw HTTPClientCallFailure(status: status, error: error)
                }
            }, bodySize: { bodySize.value })
        }
    }

    /// The route `POST url` as an endpoint: JSON out, JSON in.
    public func post<Request: Encodable & Sendable, Response: Decodable & Sendable>(
        _ url: String,
        as response: Response.Type = Response.self,
        options: HTTPClientOptions = .init()
    ) -> Endpoint<Request, Response> {
        self.endpoint(.post, url, codec: .json, options: options)
    }
}

/// The size of the answer body one call read (for its finalizers).
private final class BodySize: @unchecked Sendable {
    // Written once by the call, read after it in the same task.
    var value = 0
}
