import AsyncHTTPClient
import Foundation
import Kite
import KiteTelemetry
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// A small client of a Consul agent's HTTP API: the health of a service's instances (with blocking
/// queries), and the agent's service registration with a TTL check.
public final class ConsulClient: Sendable {
    /// One healthy instance of a service, as the health endpoint lists it.
    public struct Instance: Sendable, Hashable {
        /// The service instance's ID.
        public var id: String
        /// `address:port`: the service's address, or its node's when it registered none.
        public var address: String
        /// The instance's tags.
        public var tags: [String]
    }

    /// A service to register with the agent.
    public struct Registration: Sendable, Hashable {
        public var id: String
        public var name: String
        public var address: String
        public var port: Int
        public var tags: [String]
        /// The TTL check's time to live: the check turns critical when not passed within it.
        public var ttl: Duration
        /// How long the check may stay critical before the agent removes the service.
        public var deregisterCriticalAfter: Duration

        public init(id: String, name: String, address: String, port: Int, tags: [String] = [], ttl: Duration, deregisterCriticalAfter: Duration) {
            self.id = id
            self.name = name
            self.address = address
            self.port = port
            self.tags = tags
            self.ttl = ttl
            self.deregisterCriticalAfter = deregisterCriticalAfter
        }
    }

    /// The agent's base URL.
    public let agent: String
    private let httpClient: HTTPClient
    private let requestTimeout: Duration

    /// The HTTP client used when none is given: one for the process, that fails a refused
    /// connection at once and gives up connecting after 2 s.
    ///
    /// Its own tracing is off: discovery's polls, watches and heartbeats are not the service's
    /// calls, and after `Telemetry.bootstrap` AsyncHTTPClient would make each one a root span.
    public static let defaultHTTPClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout.connect = .seconds(2)
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.tracing.tracer = nil
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// The largest answer read.
    static let maxBodyBytes = 16 << 20

    /// Creates a client of the agent at `agent` (`http://host:port`).
    /// - Throws: ``ConsulError/malformed(_:)`` when `agent` is not an `http(s)` URL.
    public init(agent: String, httpClient: HTTPClient = ConsulClient.defaultHTTPClient, requestTimeout: Duration = .seconds(5)) throws {
        guard agent.hasPrefix("http://") || agent.hasPrefix("https://") else {
            throw ConsulError.malformed("the Consul address \"\(agent)\" is not an http:// or https:// URL")
        }
        self.agent = agent.hasSuffix("/") ? String(agent.dropLast()) : agent
        self.httpClient = httpClient
        self.requestTimeout = requestTimeout
    }

    /// The passing instances of `service` that carry every one of `tags`, and the index to block on
    /// next. With `index` greater than 0 this is a blocking query: the agent answers when the
    /// index moves past it, or after `wait`.
    public func healthyInstances(
        of service: String,
        tags: [String] = [],
        index: UInt64 = 0,
        wait: Duration = .seconds(300)
    ) async throws -> (instances: [Instance], index: UInt64) {
        var query = "passing=true"
        for tag in tags { query += "&tag=\(Self.escape(tag))" }
        if index > 0 { query += "&index=\(index)&wait=\(wait.components.seconds)s" }
        let (status, headers, body) = try await self.send(
            .GET,
            "/v1/health/service/\(Self.escape(service))?\(query)",
            timeout: index > 0 ? Self.blockingTimeout(wait: wait, margin: self.requestTimeout) : self.requestTimeout
        )
        guard status == 200 else { throw ConsulError.refused(status: status, message: String(decoding: body, as: UTF8.self)) }
        guard let indexText = headers.first(name: "X-Consul-Index"), let newIndex = UInt64(indexText) else {
            throw ConsulError.malformed("a health answer without an X-Consul-Index")
        }
        return (try Self.instances(in: body), newIndex)
    }

    /// Registers `registration` with the agent (replacing a registration of the same ID).
    public func register(_ registration: Registration) async throws {
        let object: [String: Any] = [
            "ID": registration.id,
            "Name": registration.name,
            "Address": registration.address,
            "Port": registration.port,
            "Tags": registration.tags,
            "Check": [
                "TTL": "\(Self.milliseconds(registration.ttl))ms",
                "DeregisterCriticalServiceAfter": "\(Self.milliseconds(registration.deregisterCriticalAfter))ms",
            ],
        ]
        try await self.put("/v1/agent/service/register", body: try JSONSerialization.data(withJSONObject: object))
    }

    /// Passes the TTL check of the service registered as `id`.
    /// - Throws: ``ConsulError/refused(status:message:)`` with 404 when the agent no longer has it.
    public func passCheck(ofService id: String) async throws {
        try await self.put("/v1/agent/check/pass/service:\(Self.escape(id))", body: nil)
    }

    /// Removes the service registered as `id`.
    public func deregister(service id: String) async throws {
        try await self.put("/v1/agent/service/deregister/\(Self.escape(id))", body: nil)
    }

    private func put(_ path: String, body: Data?) async throws {
        let (status, _, answer) = try await self.send(.PUT, path, body: body, timeout: self.requestTimeout)
        guard status == 200 else { throw ConsulError.refused(status: status, message: String(decoding: answer, as: UTF8.self)) }
    }

    private func send(
        _ method: HTTPMethod,
        _ path: String,
        body: Data? = nil,
        timeout: Duration
    ) async throws -> (Int, HTTPHeaders, Data) {
        var request = HTTPClientRequest(url: self.agent + path)
        request.method = method
        if let body {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        do {
            let response = try await self.httpClient.execute(request, timeout: .nanoseconds(timeout.clampedNanoseconds))
            let answer = try await response.body.collect(upTo: Self.maxBodyBytes)
            return (Int(response.status.code), response.headers, Data(buffer: answer))
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw ConsulError.unreachable("\(self.agent): \(error)")
        }
    }

    /// The instances of a health answer: `[{"Node":{"Address"},"Service":{"ID","Address","Port","Tags"}}]`.
    static func instances(in body: Data) throws -> [Instance] {
        struct Entry: Decodable {
            struct Node: Decodable { var Address: String? }
            struct Service: Decodable {
                var ID: String?
                var Address: String?
                var Port: Int?
                var Tags: [String]?
            }
            var Node: Node?
            var Service: Service?
        }
        let entries: [Entry]
        do {
            entries = try JSONDecoder().decode([Entry].self, from: body)
        } catch {
            throw ConsulError.malformed("a health answer: \(error)")
        }
        return try entries.map { entry in
            guard let service = entry.Service, let port = service.Port, (1...65535).contains(port) else {
                throw ConsulError.malformed("a health entry without a service port in 1…65535")
            }
            let host = service.Address.flatMap { $0.isEmpty ? nil : $0 } ?? entry.Node?.Address ?? ""
            guard !host.isEmpty else { throw ConsulError.malformed("a health entry without an address") }
            return Instance(id: service.ID ?? "", address: "\(host):\(port)", tags: service.Tags ?? [])
        }
    }

    /// How long a blocking query may take: the wait, the agent's jitter of up to wait/16, and a margin.
    static func blockingTimeout(wait: Duration, margin: Duration) -> Duration {
        let jitter = wait / 16
        return wait + jitter + margin
    }

    static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?&=+"))) ?? text
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        duration.clampedNanoseconds / 1_000_000
    }
}
