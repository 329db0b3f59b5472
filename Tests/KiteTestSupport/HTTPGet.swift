import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A response read by ``httpRequest(_:method:body:headers:)``.
public struct HTTPResult: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: Data
    public var text: String { String(decoding: self.body, as: UTF8.self) }
}

/// Sends one HTTP request with URLSession (an HTTP client independent of Kite and Hummingbird).
public func httpRequest(
    _ url: String,
    method: String = "GET",
    body: Data? = nil,
    headers: [String: String] = [:]
) async throws -> HTTPResult {
    guard let url = URL(string: url) else { throw URLError(.badURL) }
    var request = URLRequest(url: url)
    request.httpMethod = method
    request.httpBody = body
    request.timeoutInterval = 30
    for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
    let (data, response) = try await URLSession.shared.data(for: request)
    guard let http = response as? HTTPURLResponse else { throw URLError(.badServerResponse) }
    var fields = [String: String]()
    for (name, value) in http.allHeaderFields {
        if let name = name as? String, let value = value as? String { fields[name.lowercased()] = value }
    }
    return HTTPResult(status: http.statusCode, headers: fields, body: data)
}
