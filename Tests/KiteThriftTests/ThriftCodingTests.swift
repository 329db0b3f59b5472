import Foundation
import Kite
import NIOCore
import KiteTestSupport
import NIOEmbedded
import Testing

@testable import KiteThrift

@Suite("Thrift coding: Codable structs in both protocols, messages, limits")
struct ThriftCodingTests {
    @Test("every supported type round trips, in both protocols", arguments: ThriftProtocol.allCases)
    func roundTrip(protocol: ThriftProtocol) throws {
        let serializer = ThriftSerializer(protocol: `protocol`)
        for note in ["a note", nil] {
            let value = Everything.sample(note: note)
            #expect(try serializer.decode(Everything.self, from: serializer.encode(value)) == value)
        }
    }

    @Test("a call message round trips with Kite's context field, which plain decoding skips", arguments: ThriftProtocol.allCases)
    func callMessage(protocol: ThriftProtocol) throws {
        let header = ThriftMessageHeader(name: "Add", type: .call, sequenceID: 42)
        let message = try ThriftCallCoding.call(AddArguments(a: 1, b: 2), header: header, protocol: `protocol`, context: ["traceparent": "00-a-b-01"])
        var reader = ThriftReader(protocol: `protocol`, limits: ThriftLimits(), buffer: message)
        #expect(try reader.readMessageBegin() == header)
        #expect(try ThriftCallCoding.context(in: reader) == ["traceparent": "00-a-b-01"])
        let arguments = try ThriftValueCoding.read(AddArguments.self, wireType: .struct, from: ThriftReaderBox(reader))
        #expect(arguments.a == 1 && arguments.b == 2)

        let reply = try ThriftCallCoding.reply("found", header: header, protocol: `protocol`)
        var replyReader = ThriftReader(protocol: `protocol`, limits: ThriftLimits(), buffer: reply)
        let replyHeader = try replyReader.readMessageBegin()
        #expect(replyHeader.type == .reply && replyHeader.sequenceID == 42)
        #expect(try ThriftCallCoding.response(String.self, header: replyHeader, reader: replyReader, exceptions: .none) == "found")
    }
}

@Suite("Thrift decoders under random and mutated input")
struct ThriftFuzzTests {
    @Test("random and mutated messages give a value or a clear error, never a crash, in both protocols and both framings", arguments: ThriftProtocol.allCases)
    func fuzz(protocol: ThriftProtocol) async throws {
        var random = SplitMix(seed: 0xC0FFEE)
        let limits = ThriftLimits(maxMessageSize: 1 << 16, maxContainerSize: 1000, maxStringSize: 4096, maxDepth: 12)
        let valid = try ThriftCallCoding.call(
            EchoArguments(value: .sample(note: "n")),
            header: ThriftMessageHeader(name: "Echo", type: .call, sequenceID: 1),
            protocol: `protocol`,
            context: ["traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"]
        )
        let validBytes = Array(valid.readableBytesView)
        var outcomes = (decoded: 0, refused: 0)
        for round in 0..<4000 {
            await shareThreads(round: round)
            var bytes: [UInt8]
            if round % 4 == 0 {
                bytes = (0..<Int(random.next() % 300)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            } else {
                bytes = validBytes
                for _ in 0..<(1 + Int(random.next() % 8)) {
                    let index = Int(random.next() % UInt64(bytes.count))
                    switch random.next() % 4 {
                    case 0: bytes[index] = UInt8(truncatingIfNeeded: random.next())
                    case 1: bytes.remove(at: index)
                    case 2: bytes.insert(0xFF, at: index)
                    default: bytes.removeSubrange(index...)
                    }
                    if bytes.isEmpty { break }
                }
            }
            // The message decoder, as a server reads a call.
            do {
                var reader = ThriftReader(protocol: `protocol`, limits: limits, buffer: ByteBuffer(bytes: bytes))
                _ = try reader.readMessageBegin()
                _ = try ThriftCallCoding.context(in: reader)
                _ = try ThriftValueCoding.read(EchoArguments.self, wireType: .struct, from: ThriftReaderBox(reader))
                outcomes.decoded += 1
            } catch is ThriftProtocolError, is DecodingError {
                outcomes.refused += 1
            }
            // The buffered framing, which measures a message by walking it.
            for transport in ThriftTransport.allCases {
                let channel = EmbeddedChannel(
                    handler: ByteToMessageHandler(ThriftFrameDecoder(transport: transport, protocol: `protocol`, limits: limits))
                )
                do {
                    try channel.writeInbound(ByteBuffer(bytes: bytes))
                    while try channel.readInbound(as: ByteBuffer.self) != nil {}
                } catch is ThriftProtocolError {
                }
                _ = try? channel.finish()
            }
        }
        #expect(outcomes.decoded > 0 && outcomes.refused > 0)
    }

    @Test("a declared size larger than what follows is refused before anything is allocated for it")
    func lyingSizes() throws {
        let limits = ThriftLimits()
        // A binary-protocol list of i64 that says it holds 900,000 elements, with 16 bytes after it.
        var list = ByteBuffer(bytes: [ThriftType.i64.rawValue])
        list.writeInteger(Int32(900_000))
        list.writeBytes([UInt8](repeating: 0, count: 16))
        var reader = ThriftReader(protocol: .binary, limits: limits, buffer: list)
        #expect(throws: ThriftProtocolError.truncated) { _ = try reader.readListBegin() }
        // A string that says it is 2 GB long.
        var string = ByteBuffer()
        string.writeInteger(Int32.max)
        var stringReader = ThriftReader(protocol: .binary, limits: limits, buffer: string)
        #expect(throws: ThriftProtocolError.self) { _ = try stringReader.readString() }
        // Nesting past the limit.
        let deep = ByteBuffer(bytes: Array(repeating: [UInt8(ThriftType.list.rawValue), 0, 0, 0, 1], count: 100).flatMap { $0 })
        var nested = ThriftReader(protocol: .binary, limits: ThriftLimits(maxDepth: 8), buffer: deep)
        #expect(throws: ThriftProtocolError("nested deeper than 8")) { try nested.skip(.list) }
    }
}
