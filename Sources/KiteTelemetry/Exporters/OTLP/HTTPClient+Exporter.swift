import AsyncHTTPClient

extension HTTPClient {
    /// The client Kite's OTLP exporters send through: AsyncHTTPClient's shared configuration, on
    /// its shared event loops, with the client's own tracing off.
    ///
    /// An exporter must not trace its own requests. `HTTPClient.shared` takes the tracer that is
    /// bootstrapped when it is first used: made after Kite's tracer was bootstrapped, it would start
    /// a span for every export, which the next export would carry — one more span per export,
    /// forever, in a service that does nothing. Even with no tracer, the client prepares each
    /// request's span attributes (it parses the URL again) before the no-op span drops them.
    ///
    /// Like `HTTPClient.shared`, it lives as long as the process and is never shut down.
    static let kiteExporter: HTTPClient = {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.tracing.tracer = nil
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()
}
