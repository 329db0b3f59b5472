import Instrumentation
import NIOHTTP1

/// Writes trace headers into NIO's `HTTPHeaders` (AsyncHTTPClient's requests), replacing earlier
/// values.
public struct HTTPHeadersInjector: Injector {
    /// Creates the injector.
    public init() {}

    public func inject(_ value: String, forKey key: String, into headers: inout HTTPHeaders) {
        headers.replaceOrAdd(name: key, value: value)
    }
}
