import KiteTelemetry
import NIOCore
import NIOPosix

/// Looks up SRV records over DNS on SwiftNIO: a question over UDP (tried again on silence), and
/// the same question over TCP when the UDP answer comes back truncated.
public struct SRVResolver: Sendable {
    /// What one lookup found.
    public struct Lookup: Sendable {
        /// The records, preferred first (lower priority, then higher weight).
        public var records: [SRVRecord]
        /// Whether the answer had to be fetched over TCP (the UDP one was truncated).
        public var overTCP: Bool
    }

    /// The server asked.
    public let server: SocketAddress
    /// How long to wait for one answer.
    public let timeout: Duration
    /// How many times a UDP question is sent before giving up.
    public let attempts: Int
    private let group: any EventLoopGroup

    /// Creates a resolver.
    /// - Parameters:
    ///   - server: `host:port` of the DNS server (IP address; port 53 when left out); `nil` takes
    ///     the first `nameserver` of `/etc/resolv.conf`.
    ///   - timeout: How long to wait for an answer. Default 2 s.
    ///   - attempts: UDP questions sent before giving up. Default 3.
    ///   - group: The event loops to use. Default SwiftNIO's shared ones.
    public init(
        server: String? = nil,
        timeout: Duration = .seconds(2),
        attempts: Int = 3,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) throws {
        self.server = try server.map(ResolverAddress.parse) ?? ResolverAddress.system()
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.group = group
    }

    /// The SRV records of `name`, such as `_addsvc._tcp.example.test`.
    /// - Throws: ``DNSError``.
    public func lookup(_ name: String) async throws -> Lookup {
        let id = UInt16.random(in: 0...UInt16.max)
        let query = try DNSMessage.query(id: id, name: name)
        var answer = try await self.askOverUDP(query, id: id)
        var overTCP = false
        if answer.truncated {
            answer = try await self.askOverTCP(query, id: id)
            overTCP = true
        }
        guard answer.rcode == 0 else { throw DNSError.failed(rcode: answer.rcode, name: name) }
        return Lookup(records: answer.records.sorted(by: SRVRecord.preferred), overTCP: overTCP)
    }

    private func askOverUDP(_ query: ByteBuffer, id: UInt16) async throws -> DNSMessage.Answer {
        let server = self.server
        let channel: NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>
        do {
            channel = try await DatagramBootstrap(group: self.group)
                .bind(host: server.protocol == .inet6 ? "::" : "0.0.0.0", port: 0) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(
                            wrappingChannelSynchronously: channel
                        )
                    }
                }
        } catch {
            throw DNSError.transport("\(error)")
        }
        let attempts = self.attempts
        let timeout = self.timeout
        return try await channel.executeThenClose { inbound, outbound in
            try await withThrowingTaskGroup(of: DNSMessage.Answer?.self) { group in
                group.addTask {
                    // Skip datagrams that are not the answer to this question (another source, another ID).
                    for try await envelope in inbound where envelope.remoteAddress == server {
                        let answer = try DNSMessage.parse(envelope.data)
                        if answer.id == id { return answer }
                    }
                    return nil
                }
                group.addTask {
                    for _ in 0..<attempts {
                        try await outbound.write(AddressedEnvelope(remoteAddress: server, data: query))
                        try await Task.sleep(for: timeout)
                    }
                    return nil
                }
                defer { group.cancelAll() }
                guard let answer = try await group.next() ?? nil else { throw DNSError.timedOut(server: "\(server)") }
                return answer
            }
        }
    }

    private func askOverTCP(_ query: ByteBuffer, id: UInt16) async throws -> DNSMessage.Answer {
        let server = self.server
        let answer = try await self.within(self.timeout) { () -> DNSMessage.Answer? in
            let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
            do {
                channel = try await ClientBootstrap(group: self.group)
                    .connectTimeout(.nanoseconds(self.timeout.clampedNanoseconds))
                    .connect(to: server) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                        }
                    }
            } catch {
                throw DNSError.transport("\(error)")
            }
            return try await channel.executeThenClose { inbound, outbound in
                var framed = ByteBuffer()
                framed.writeInteger(UInt16(query.readableBytes))
                framed.writeImmutableBuffer(query)
                try await outbound.write(framed)
                var received = ByteBuffer()
                for try await chunk in inbound {
                    received.writeImmutableBuffer(chunk)
                    guard let length = received.getInteger(at: received.readerIndex, as: UInt16.self),
                          received.readableBytes >= 2 + Int(length)
                    else { continue }
                    guard let message = received.getSlice(at: received.readerIndex + 2, length: Int(length)) else { break }
                    let answer = try DNSMessage.parse(message)
                    guard answer.id == id else { throw DNSError.malformed("a TCP answer to another question") }
                    return answer
                }
                throw DNSError.malformed("the TCP answer ended early")
            }
        }
        guard let answer else { throw DNSError.timedOut(server: "\(server) (TCP)") }
        return answer
    }

    /// `body`'s result, or `nil` when it takes longer than `limit` (it is then cancelled).
    private func within<Result: Sendable>(
        _ limit: Duration,
        _ body: @escaping @Sendable () async throws -> Result?
    ) async throws -> Result? {
        try await withThrowingTaskGroup(of: Result?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
    }
}
