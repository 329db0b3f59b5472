import Foundation
import NIOCore
@testable import KiteDNSSRV
@testable import KiteEtcd
@testable import KiteZooKeeper
import KiteTestSupport
import NIOEmbedded
import Testing

/// Random and mutated input for every discovery decoder: each answer is a value or a clear error,
/// never a crash or a hang.
@Suite("Discovery decoders: random and mutated input")
struct DecoderFuzzTests {
    /// A repeatable source of bytes (SplitMix64).
    struct Bytes: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            self.state &+= 0x9E37_79B9_7F4A_7C15
            var z = self.state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }

        /// `seed` changed in up to eight places: bytes flipped, cut, repeated or replaced.
        mutating func mutate(_ seed: [UInt8]) -> [UInt8] {
            var bytes = seed
            for _ in 0..<Int.random(in: 1...8, using: &self) {
                guard !bytes.isEmpty else { break }
                let at = Int.random(in: 0..<bytes.count, using: &self)
                switch Int.random(in: 0..<4, using: &self) {
                case 0: bytes[at] ^= UInt8.random(in: 1...255, using: &self)
                case 1: bytes.removeSubrange(at...)
                case 2: bytes.insert(contentsOf: bytes[at...].prefix(16), at: at)
                default: bytes[at] = [UInt8(ascii: "\""), UInt8(ascii: "{"), UInt8(ascii: "]"), 0, 0xFF].randomElement(using: &self) ?? 0
                }
            }
            return bytes
        }

        mutating func random(count: Int) -> [UInt8] {
            (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) }
        }
    }

    static let etcdWatchLines = [
        #"{"result":{"header":{"revision":"3"},"created":true}}"#,
        #"{"result":{"header":{"revision":"4"},"events":[{"kv":{"key":"L3N2Yy9i","value":"MTI3LjAuMC4xOjI="}},{"type":"DELETE","kv":{"key":"L3N2Yy9h"}}]}}"#,
        #"{"result":{"header":{"raft_term":"2"},"canceled":true,"compact_revision":"4"}}"#,
        #"{"error":{"grpc_code":5,"http_code":404,"message":"x","http_status":"Not Found"}}"#,
    ]

    @Test("etcd watch lines and range answers")
    func etcd() async {
        var bytes = Bytes(state: 2026)
        var outcomes = (values: 0, errors: 0)
        for round in 0..<20_000 {
            await shareThreads(round: round)
            let line = round % 5 == 4
                ? bytes.random(count: Int.random(in: 0..<200, using: &bytes))
                : bytes.mutate(Array(Self.etcdWatchLines[round % 4].utf8))
            do {
                _ = try EtcdClient.watchChanges(in: Data(line))
                outcomes.values += 1
            } catch is EtcdError {
                outcomes.errors += 1
            } catch {
                Issue.record("not an EtcdError: \(error)")
            }
            do {
                let range = try EtcdClient.decode(EtcdMessages.RangeResponse.self, Data(line))
                _ = try (range.kvs ?? []).map(EtcdClient.keyValue)
            } catch is EtcdError {
            } catch {
                Issue.record("not an EtcdError: \(error)")
            }
        }
        // Both kinds of outcome happen: the mutations are neither all fatal nor all harmless.
        #expect(outcomes.values > 50)
        #expect(outcomes.errors > 10_000)
    }

    @Test("a watch stream's line splitter: any cut of the stream gives the same lines; an endless line is refused")
    func lineSplitter() throws {
        let stream = Array((Self.etcdWatchLines.joined(separator: "\n") + "\n").utf8)
        var bytes = Bytes(state: 7)
        for _ in 0..<500 {
            var splitter = LineSplitter(maxLineBytes: 1 << 16)
            var lines: [Data] = []
            var rest = stream[...]
            while !rest.isEmpty {
                let cut = Int.random(in: 1...max(1, rest.count), using: &bytes)
                splitter.append(.init(bytes: rest.prefix(cut)))
                rest = rest.dropFirst(cut)
                while let line = try splitter.next() { lines.append(line) }
            }
            #expect(lines.map { String(decoding: $0, as: UTF8.self) } == Self.etcdWatchLines)
        }
        var endless = LineSplitter(maxLineBytes: 1024)
        endless.append(.init(bytes: [UInt8](repeating: UInt8(ascii: "x"), count: 2048)))
        #expect(throws: EtcdError.self) { try endless.next() }
    }

    /// A real-shaped answer: the question, then SRV records whose owner names point back at it.
    static func srvAnswer(id: UInt16 = 0x1234, truncated: Bool = false) throws -> [UInt8] {
        var buffer = try DNSMessage.query(id: id, name: "_sum._tcp.example.test")
        buffer.setInteger(UInt16(truncated ? 0x8380 : 0x8180), at: 2)  // QR AA RD RA (TC)
        buffer.setInteger(UInt16(2), at: 6)  // two answers
        for (port, target) in [(UInt16(8081), "a.example.test"), (8082, "b.example.test")] {
            buffer.writeInteger(UInt16(0xC00C))  // the question's name
            buffer.writeInteger(DNSMessage.typeSRV)
            buffer.writeInteger(DNSMessage.classIN)
            buffer.writeInteger(UInt32(30))
            var rdata = ByteBuffer()
            rdata.writeInteger(UInt16(0))
            rdata.writeInteger(UInt16(10))
            rdata.writeInteger(port)
            try DNSMessage.writeName(target, into: &rdata)
            buffer.writeInteger(UInt16(rdata.readableBytes))
            buffer.writeBuffer(&rdata)
        }
        return Array(buffer.readableBytesView)
    }

    @Test("a DNS answer: the real shape parses; hostile ones are errors")
    func dnsHostile() throws {
        let valid = try Self.srvAnswer()
        let parsed = try DNSMessage.parse(ByteBuffer(bytes: valid))
        #expect(parsed.records.map(\.instance) == ["a.example.test:8081", "b.example.test:8082"])
        #expect(parsed.records.allSatisfy { $0.ttl == 30 })

        func refused(_ bytes: [UInt8], _ what: String) {
            #expect(throws: DNSError.self, "\(what)") { try DNSMessage.parse(ByteBuffer(bytes: bytes)) }
        }
        // The first answer's owner name, at byte 40, made a pointer to itself: a loop.
        var loop = valid
        loop[40] = 0xC0
        loop[41] = 40
        refused(loop, "a pointer to itself")
        // A pointer forward, to a later name that points back to it.
        var forward = valid
        forward[40] = 0xC0
        forward[41] = UInt8(valid.count - 2)
        refused(forward, "a pointer forward")
        // The first record's length made larger than the message.
        var lying = valid
        lying[50] = 0xFF
        refused(lying, "a record length past the end")
        // More answers announced than present.
        var counts = valid
        counts[7] = 9
        refused(counts, "an answer count that lies")
        // Cut anywhere inside: an error, never a crash.
        for cut in 0..<valid.count { _ = try? DNSMessage.parse(ByteBuffer(bytes: valid.prefix(cut))) }
        // A truncated answer keeps its whole records and says it is truncated.
        let truncated = try Self.srvAnswer(truncated: true)
        let partial = try DNSMessage.parse(ByteBuffer(bytes: truncated.prefix(truncated.count - 30)))
        #expect(partial.truncated)
        #expect(partial.records.count <= 1)
    }

    @Test("DNS answers, random and mutated")
    func dnsFuzz() async throws {
        let valid = try Self.srvAnswer()
        var bytes = Bytes(state: 53)
        var outcomes = (values: 0, errors: 0)
        for round in 0..<20_000 {
            await shareThreads(round: round)
            let message = round % 5 == 4
                ? bytes.random(count: Int.random(in: 0..<300, using: &bytes))
                : bytes.mutate(valid)
            do {
                _ = try DNSMessage.parse(ByteBuffer(bytes: message))
                outcomes.values += 1
            } catch is DNSError {
                outcomes.errors += 1
            } catch {
                Issue.record("not a DNSError: \(error)")
            }
        }
        #expect(outcomes.values > 100)
        #expect(outcomes.errors > 1000)
    }

    @Test("ZooKeeper packets: lying lengths and counts are errors; random and mutated replies never crash")
    func zookeeper() async throws {
        // A frame whose length is negative, or larger than the limit, closes the connection with an error.
        for length in [Int32(-1), ZooKeeperFrameDecoder.maxFrameBytes + 1] {
            let channel = EmbeddedChannel(handler: ByteToMessageHandler(ZooKeeperFrameDecoder()))
            var bytes = ByteBuffer()
            bytes.writeInteger(length)
            #expect(throws: ZooKeeperError.self) { try channel.writeInbound(bytes) }
        }
        // Two frames cut anywhere arrive whole.
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(ZooKeeperFrameDecoder()))
        var stream = ByteBuffer()
        for payload in [[UInt8](repeating: 7, count: 5), [1, 2, 3]] {
            stream.writeInteger(Int32(payload.count))
            stream.writeBytes(payload)
        }
        while let piece = stream.readSlice(length: min(3, stream.readableBytes)), piece.readableBytes > 0 {
            try channel.writeInbound(piece)
        }
        #expect(try channel.readInbound(as: ByteBuffer.self)?.readableBytes == 5)
        #expect(try channel.readInbound(as: ByteBuffer.self)?.readableBytes == 3)

        // A children reply and a connect response, mutated.
        var children = ByteBuffer()
        children.writeJuteStrings(["instance-0000000001", "instance-0000000002"])
        var connect = ByteBuffer()
        connect.writeInteger(Int32(0))
        connect.writeInteger(Int32(6000))
        connect.writeInteger(Int64(0x1234))
        connect.writeJuteBuffer([UInt8](repeating: 9, count: 16))
        let seeds = [Array(children.readableBytesView), Array(connect.readableBytesView)]
        var lying = ByteBuffer()
        lying.writeInteger(Int32.max)  // a count no message can hold
        #expect(throws: ZooKeeperError.self) { try lying.readJuteStrings() }

        var bytes = Bytes(state: 2181)
        var errors = 0
        for round in 0..<20_000 {
            await shareThreads(round: round)
            let input = round % 5 == 4 ? bytes.random(count: Int.random(in: 0..<120, using: &bytes)) : bytes.mutate(seeds[round % 2])
            do {
                var buffer = ByteBuffer(bytes: input)
                if round % 2 == 0 { _ = try buffer.readJuteStrings() } else { _ = try ZooKeeperClient.connectResponse(&buffer) }
            } catch is ZooKeeperError {
                errors += 1
            } catch {
                Issue.record("not a ZooKeeperError: \(error)")
            }
        }
        #expect(errors > 1000)
    }

    @Test("resolver addresses: host:port, a bare IP (port 53), [IPv6]:port, a bare IPv6; resolv.conf's first nameserver")
    func resolverAddresses() throws {
        #expect(try ResolverAddress.parse("127.0.0.1:5353").port == 5353)
        #expect(try ResolverAddress.parse("10.0.0.2").port == 53)
        #expect(try ResolverAddress.parse("[::1]:5300").port == 5300)
        #expect(try ResolverAddress.parse("::1").port == 53)
        for bad in ["127.0.0.1:0", "127.0.0.1:70000", "127.0.0.1:x", "dns.example:53", "[::1]:y"] {
            #expect(throws: DNSError.self, "\(bad)") { try ResolverAddress.parse(bad) }
        }
        let conf = "# generated\nsearch example.test\noptions ndots:2\nnameserver\t192.0.2.53\nnameserver 192.0.2.54\n"
        #expect(ResolverAddress.nameserver(inResolvConf: conf) == "192.0.2.53")
        #expect(ResolverAddress.nameserver(inResolvConf: "search x\n") == nil)
    }
}
