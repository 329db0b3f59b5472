import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A response read by ``httpRequest(_:method:body:headers:)``.
public struct HTTPResult: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: Data
    public var text: String { String(decoding: self.body, as: UTF8.self) }
}

/// Sends one HTTP request with AsyncHTTPClient's shared client (an HTTP client independent of
/// Kite and Hummingbird). Not URLSession: on Linux its waits hold threads of the pool that runs
/// the tests' tasks, and a test looping on it can starve every other test of threads.
public func httpRequest(
    _ url: String,
    method: String = "GET",
    body: Data? = nil,
    headers: [String: String] = [:]
) async throws -> HTTPResult {
    var request = HTTPClientRequest(url: url)
    request.method = HTTPMethod(rawValue: method)
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
    var fields = [String: String]()
    for header in response.headers {
        let name = header.name.lowercased()
        fields[name] = fields[name].map { "\($0), \(header.value)" } ?? header.value
    }
    let bytes = try await response.body.collect(upTo: 64 << 20)
    return HTTPResult(status: Int(response.status.code), headers: fields, body: Data(bytes.readableBytesView))
}
