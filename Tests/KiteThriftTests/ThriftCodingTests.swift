import Foundation
import Kite
import NIOCore
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
