import Kite
import KiteTelemetry

/// `{"s": "..."}`: the request of both methods.
public struct StringRequest: Codable, Sendable {
    public var s: String
    public init(s: String) { self.s = s }
}

/// `{"v": "..."}`: the answer of `uppercase`.
public struct UppercaseResponse: Codable, Sendable {
    public var v: String
}

/// `{"v": 3}`: the answer of `count`.
public struct CountResponse: Codable, Sendable {
    public var v: Int
}

/// The service's methods as instrumented endpoints.
public struct StringEndpoints: Sendable {
    public let uppercase: Endpoint<StringRequest, UppercaseResponse>
    public let count: Endpoint<StringRequest, CountResponse>

    /// Makes the endpoints of `service`, each with the one decorator.
    public init(service: some StringService, telemetry: Telemetry) {
        self.uppercase = Endpoint { request in
            UppercaseResponse(v: try await service.uppercase(request.s))
        }
        .instrumented("uppercase", telemetry)

        self.count = Endpoint { request in
            CountResponse(v: try await service.count(request.s))
        }
        .instrumented("count", telemetry)
    }
}
