import Foundation
import NIOCore
@testable import KiteEtcd
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
    func etcd() {
        var bytes = Bytes(state: 2026)
        var outcomes = (values: 0, errors: 0)
        for round in 0..<20_000 {
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
        #expect(outcomes.values > 100)
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
}
