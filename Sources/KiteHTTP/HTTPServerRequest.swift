import HTTPTypes
import NIOCore

/// A request as a route's decoder sees it: the head, the collected body, and the path parameters.
public struct HTTPServerRequest: Sendable {
    /// Method, path and header fields.
    public var head: HTTPRequest
    /// The body, collected up to the server's limit.
    public var body: ByteBuffer
    /// The values of the route's path parameters by name: `/users/:id` matched by `/users/42`
    /// gives `["id": "42"]`.
    public var parameters: [String: String]

    /// Creates a request.
    public init(head: HTTPRequest, body: ByteBuffer, parameters: [String: String] = [:]) {
        self.head = head
        self.body = body
        self.parameters = parameters
    }

    /// The value of the path parameter `name`, or ``HTTPTransportError/malformedRequest(_:)``.
    public func parameter(_ name: String) throws -> String {
        guard let value = self.parameters[name] else {
            throw HTTPTransportError.malformedRequest("missing path parameter '\(name)'")
        }
        return value
    }
}
