import Benchmark
import Foundation
@_spi(Benchmarks) import KiteNATS
import KiteThrift
import NIOCore

/// A struct with every kind of Thrift field, as the Thrift decoder benchmarks read it.
struct BenchmarkEverything: Codable {
    var flag: Bool
    var number: Int32
    var big: Int64
    var ratio: Double
    var text: String
    var data: Data
    var numbers: [Int32]
    var tags: Set<String>
    var counts: [String: Int64]
    var inner: BenchmarkInner
    var note: String?

    enum CodingKeys: Int, CodingKey {
        case flag = 1, number, big, ratio, text, data, numbers, tags, counts, inner, note
    }
}

struct BenchmarkInner: Codable {
    var name: String
    var size: Int32
    enum CodingKeys: Int, CodingKey { case name = 1, size = 2 }
}

/// go-kit's `Sum` arguments.
struct BenchmarkSumArguments: Codable {
    var a: Int
    var b: Int
    enum CodingKeys: Int, CodingKey { case a = 1, b = 2 }
}

func transportBenchmarks() {
    // 1,000 request messages as a responder receives them: a subject, a reply inbox, the trace
    // context and Kite-Timeout headers, addsvc's 13-byte JSON body.
    var frames = ByteBuffer()
    for index in 0..<1000 {
        let headers = "NATS/1.0\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nKite-Timeout: 4999\r\n\r\n"
        let payload = #"{"a":1,"b":2}"#
        frames.writeString("HMSG addsvc.sum 1 _INBOX.Qx8e2Lr0FV3bW1jK5nT9aZ.\(index) \(headers.utf8.count) \(headers.utf8.count + payload.utf8.count)\r\n")
        frames.writeString(headers + payload + "\r\n")
    }
    let natsBytes = frames.readableBytes
    Benchmark("NATS decode: 1,000 HMSG requests (2 headers, 13-byte JSON; \(natsBytes) bytes)", configuration: once()) { benchmark in
        for _ in benchmark.scaledIterations {
            var buffer = frames
            var decoder = NATSOperationDecoder()
            while let operation = try decoder.decode(buffer: &buffer) { blackHole(operation) }
        }
    }

    let everything = BenchmarkEverything(
        flag: true, number: 70000, big: -(1 << 40), ratio: 2.5, text: "héllo ✓ 日本", data: Data(0..<64),
        numbers: Array(0..<16), tags: ["a", "b", "c"], counts: ["x": 1, "y": 2], inner: BenchmarkInner(name: "in", size: 3), note: "n"
    )
    for wire in ThriftProtocol.allCases {
        let serializer = ThriftSerializer(protocol: wire)
        guard let encoded = try? serializer.encode(everything) else { continue }
        Benchmark("Thrift decode (\(wire.rawValue)): a struct of every field kind (\(encoded.readableBytes) bytes)", configuration: perCall()) { benchmark in
            for _ in benchmark.scaledIterations { blackHole(try serializer.decode(BenchmarkEverything.self, from: encoded)) }
        }
        Benchmark("Thrift encode (\(wire.rawValue)): a struct of every field kind", configuration: perCall()) { benchmark in
            for _ in benchmark.scaledIterations { blackHole(try serializer.encode(everything)) }
        }
        guard let sum = try? serializer.encode(BenchmarkSumArguments(a: 1, b: 2)) else { continue }
        Benchmark("Thrift decode (\(wire.rawValue)): go-kit's Sum arguments (\(sum.readableBytes) bytes)", configuration: perCall()) { benchmark in
            for _ in benchmark.scaledIterations { blackHole(try serializer.decode(BenchmarkSumArguments.self, from: sum)) }
        }
    }
}
