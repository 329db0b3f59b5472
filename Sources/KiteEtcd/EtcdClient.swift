import AsyncHTTPClient
import Foundation
import Kite
import KiteTelemetry
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Synchronization

/// A small client of etcd's v3 API through its JSON gateway (`/v3/…` over HTTP/1.1): what
/// discovery needs — ranges by prefix, watches, puts, deletes and leases.
///
/// It is given one or more endpoints (`http://host:port`), tries them in order from the last one
/// that answered, and gives up with ``EtcdError/unreachable(_:)`` when none does.
public final class EtcdClient: Sendable {
    /// A key and its value.
    public struct KeyValue: Sendable, Hashable {
        public var key: String
        public var value: String
    }

    /// One change a watch saw.
    public enum Change: Sendable, Hashable {
        /// The key was created or its value changed.
        case put(key: String, value: String)
        /// The key was deleted (by a delete or its lease expiring).
        case delete(key: String)
    }

    /// The endpoints, as given.
    public let endpoints: [String]
    private let httpClient: HTTPClient
    private let requestTimeout: Duration
    private let preferred = Atomic<Int>(0)

    /// The largest answer read (a range of many keys); a longer one is an error.
    static let maxBodyBytes = 16 << 20

    /// The HTTP client used when none is given: one for the process, that fails a connection
    /// refused at once (no re-tries of its own: the client moves on to the next endpoint, the
    /// instancer backs off) and gives up connecting after 2 s.
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

    /// Creates a client.
    /// - Parameters:
    ///   - endpoints: Base URLs of etcd members, such as `http://127.0.0.1:2379`.
    ///   - httpClient: The HTTP client to use. Default ``defaultHTTPClient``.
    ///   - requestTimeout: The time one request may take (not a watch). Default 5 s.
    /// - Throws: ``EtcdError/malformed(_:)`` when `endpoints` is empty or one is not an `http(s)` URL.
    public init(endpoints: [String], httpClient: HTTPClient = EtcdClient.defaultHTTPClient, requestTimeout: Duration = .seconds(5)) throws {
        let trimmed = endpoints.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        guard !trimmed.isEmpty else { throw EtcdError.malformed("no etcd endpoint given") }
        for endpoint in trimmed where !(endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://")) {
            throw EtcdError.malformed("etcd endpoint \"\(endpoint)\" is not an http:// or https:// URL")
        }
        self.endpoints = trimmed
        self.httpClient = httpClient
        self.requestTimeout = requestTimeout
    }

    // MARK: Keys

    /// Every key under `prefix` with its value, and the store's revision they were read at.
    public func range(prefix: String) async throws -> (keyValues: [KeyValue], revision: Int64) {
        let body = try await self.post("/v3/kv/range", [
            "key": Self.base64(prefix),
            "range_end": Self.base64(Self.rangeEnd(ofPrefix: prefix)),
        ])
        let response = try Self.decode(EtcdMessages.RangeResponse.self, body)
        let keyValues = try (response.kvs ?? []).map(Self.keyValue)
        return (keyValues, try Self.revision(response.header))
    }

    /// Checks that etcd still has `revision` in its history (a watch can start there).
    /// - Throws: ``EtcdError/compacted(revision:)`` when it was compacted away.
    public func checkHistory(prefix: String, at revision: Int64) async throws {
        do {
            _ = try await self.post("/v3/kv/range", [
                "key": Self.base64(prefix),
                "range_end": Self.base64(Self.rangeEnd(ofPrefix: prefix)),
                "revision": String(revision),
                "count_only": true,
            ])
        } catch EtcdError.refused(code: ErrorCode.outOfRange.rawValue, let message) where message.contains("compacted") {
            throw EtcdError.compacted(revision: revision)
        }
    }

    /// Sets `key` to `value`, bound to `lease` when one is given (the key goes when the lease does).
    public func put(_ key: String, _ value: String, lease: Int64? = nil) async throws {
        var request = ["key": Self.base64(key), "value": Self.base64(value)]
        if let lease { request["lease"] = String(lease) }
        _ = try await self.post("/v3/kv/put", request)
    }

    /// Deletes `key`.
    public func delete(_ key: String) async throws {
        _ = try await self.post("/v3/kv/deleterange", ["key": Self.base64(key)])
    }

    // MARK: Leases

    /// A new lease of `ttl` seconds; its ID.
    public func grantLease(ttl: Int64) async throws -> Int64 {
        let body = try await self.post("/v3/lease/grant", ["TTL": String(ttl)])
        let response = try Self.decode(EtcdMessages.LeaseGrantResponse.self, body)
        if let error = response.error, !error.isEmpty { throw EtcdError.refused(code: 2, message: error) }
        guard let id = response.ID.flatMap(Int64.init) else { throw EtcdError.malformed("a lease grant without an ID") }
        return id
    }

    /// Renews `lease`; the seconds it has left, 0 when etcd no longer has it (expired or revoked).
    public func keepAlive(lease: Int64) async throws -> Int64 {
        let body = try await self.post("/v3/lease/keepalive", ["ID": String(lease)])
        let response = try Self.decode(EtcdMessages.LeaseKeepAliveResponse.self, body)
        guard let result = response.result else { throw EtcdError.malformed("a keep-alive answer without a result") }
        return result.TTL.flatMap(Int64.init) ?? 0
    }

    /// Revokes `lease`, deleting every key bound to it.
    public func revoke(lease: Int64) async throws {
        do {
            _ = try await self.post("/v3/lease/revoke", ["ID": String(lease)])
        } catch EtcdError.refused(code: ErrorCode.unimplemented.rawValue, _) {
            // etcd 3.4's gateway has it under /v3/kv/ (3.5 moved it).
            _ = try await self.post("/v3/kv/lease/revoke", ["ID": String(lease)])
        }
    }

    // MARK: Watch

    /// Watches every key under `prefix` from `revision` on, calling `onChanges` with each batch of
    /// changes and the revision of the last of them, until the task is cancelled. `onChanges` is
    /// first called with no changes (and the revision before `revision`) once etcd has created the
    /// watch.
    ///
    /// - Throws: ``EtcdError/compacted(revision:)`` when `revision` is older than etcd's history,
    ///   ``EtcdError/watchEnded`` when etcd ends the watch, or the transport's error when the
    ///   connection breaks — it never returns normally.
    public func watch(
        prefix: String,
        fromRevision revision: Int64,
        onChanges: ([Change], Int64) async throws -> Void
    ) async throws {
        let request = try self.request(
            "/v3/watch",
            endpoint: self.endpoints[self.preferred.load(ordering: .relaxed) % self.endpoints.count],
            [
                "create_request": [
                    "key": Self.base64(prefix),
                    "range_end": Self.base64(Self.rangeEnd(ofPrefix: prefix)),
                    "start_revision": String(revision),
                ]
            ]
        )
        let response = try await self.httpClient.execute(request, deadline: .distantFuture)
        guard response.status == .ok else {
            let body = try await response.body.collect(upTo: Self.maxBodyBytes)
            throw Self.refusal(status: response.status, body: Data(buffer: body))
        }
        var lines = LineSplitter(maxLineBytes: Self.maxBodyBytes)
        for try await chunk in response.body {
            lines.append(chunk)
            while let line = try lines.next() {
                if let (changes, revision) = try Self.watchChanges(in: line) {
                    try await onChanges(changes, revision)
                }
            }
        }
        throw EtcdError.watchEnded
    }

    /// The changes one line of a watch's stream brings, and the revision of the last of them (no
    /// changes for the line that says the watch was created); `nil` for a line without changes
    /// (progress).
    /// - Throws: ``EtcdError`` for an error line, an ended watch, or a line that is not a watch message.
    static func watchChanges(in line: Data) throws -> ([Change], Int64)? {
        let message = try Self.decode(EtcdMessages.WatchResponse.self, line)
        if let error = message.error {
            throw EtcdError.refused(code: error.code ?? error.grpc_code ?? 2, message: error.message ?? error.error ?? "watch error")
        }
        guard let result = message.result else { throw EtcdError.malformed("a watch message without a result") }
        if result.canceled == true {
            if let compacted = result.compact_revision.flatMap(Int64.init), compacted > 0 {
                throw EtcdError.compacted(revision: compacted)
            }
            throw EtcdError.watchEnded
        }
        guard let events = result.events, !events.isEmpty else {
            return result.created == true ? ([], try Self.revision(result.header)) : nil
        }
        let last = events.compactMap { $0.kv?.mod_revision.flatMap(Int64.init) }.max()
        return (try events.map(Self.change), try last ?? Self.revision(result.header))
    }

    // MARK: Requests

    /// POSTs `object` as JSON to `path` on the first endpoint that answers; the answer's body.
    private func post(_ path: String, _ object: [String: Any]) async throws -> Data {
        var failures: [String] = []
        let count = self.endpoints.count
        let first = self.preferred.load(ordering: .relaxed)
        for offset in 0..<count {
            let index = (first + offset) % count
            let endpoint = self.endpoints[index]
            let response: HTTPClientResponse
            let body: ByteBuffer
            do {
                let request = try self.request(path, endpoint: endpoint, object)
                response = try await self.httpClient.execute(request, timeout: .nanoseconds(self.requestTimeout.clampedNanoseconds))
                body = try await response.body.collect(upTo: Self.maxBodyBytes)
            } catch let error as EtcdError {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                failures.append("\(endpoint): \(error)")
                continue
            }
            self.preferred.store(index, ordering: .relaxed)
            guard response.status == .ok else { throw Self.refusal(status: response.status, body: Data(buffer: body)) }
            return Data(buffer: body)
        }
        throw EtcdError.unreachable(failures)
    }

    private func request(_ path: String, endpoint: String, _ object: [String: Any]) throws -> HTTPClientRequest {
        var request = HTTPClientRequest(url: endpoint + path)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        let json = try JSONSerialization.data(withJSONObject: object)
        request.body = .bytes(ByteBuffer(bytes: json))
        return request
    }

    private static func refusal(status: HTTPResponseStatus, body: Data) -> EtcdError {
        if status == .notFound { return .refused(code: ErrorCode.unimplemented.rawValue, message: "HTTP 404") }
        let error = try? JSONDecoder().decode(EtcdMessages.ErrorBody.self, from: body)
        return .refused(
            code: error?.code ?? 2,
            message: error?.message ?? error?.error ?? "HTTP \(status.code)"
        )
    }

    // MARK: Encoding

    static func decode<Message: Decodable>(_ type: Message.Type, _ body: Data) throws -> Message {
        do {
            return try JSONDecoder().decode(type, from: body)
        } catch {
            throw EtcdError.malformed("\(Message.self): \(error)")
        }
    }

    static func base64(_ text: String) -> String {
        Data(text.utf8).base64EncodedString()
    }

    static func base64(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
    }

    static func text(base64: String?, _ what: String) throws -> String {
        guard let base64 else { return "" }
        guard let data = Data(base64Encoded: base64) else { throw EtcdError.malformed("\(what) is not base64") }
        return String(decoding: data, as: UTF8.self)
    }

    static func keyValue(_ kv: EtcdMessages.KeyValue) throws -> KeyValue {
        KeyValue(key: try Self.text(base64: kv.key, "a key"), value: try Self.text(base64: kv.value, "a value"))
    }

    static func change(_ event: EtcdMessages.WatchResponse.Event) throws -> Change {
        guard let kv = event.kv else { throw EtcdError.malformed("a watch event without a key") }
        let key = try Self.text(base64: kv.key, "a key")
        switch event.type ?? "PUT" {
        case "PUT": return .put(key: key, value: try Self.text(base64: kv.value, "a value"))
        case "DELETE": return .delete(key: key)
        case let other: throw EtcdError.malformed("a watch event of type \(other)")
        }
    }

    static func revision(_ header: EtcdMessages.Header?) throws -> Int64 {
        guard let revision = header?.revision.flatMap(Int64.init) else { throw EtcdError.malformed("an answer without a revision") }
        return revision
    }

    /// The end of the range of every key that starts with `prefix`: the prefix with its last byte
    /// that is not 0xFF incremented and the rest dropped (`[0]`, every key, when there is none).
    static func rangeEnd(ofPrefix prefix: String) -> [UInt8] {
        var bytes = Array(prefix.utf8)
        while let last = bytes.last {
            if last < 0xFF {
                bytes[bytes.count - 1] = last + 1
                return bytes
            }
            bytes.removeLast()
        }
        return [0]
    }
}
