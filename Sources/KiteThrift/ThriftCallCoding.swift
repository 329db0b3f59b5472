import Foundation
import Kite
import NIOCore

/// Calls and replies as Thrift messages: a call's arguments are the request struct (its coding
/// keys the parameters' ids); a reply is the result struct, the response in field 0 (none for
/// ``ThriftVoid``) or a declared exception in its own field; other failures are exception
/// messages holding a ``ThriftApplicationError``.
///
/// Kite's callers add one field to the arguments: id 32767, a `map<string,string>` holding the
/// trace context (`traceparent`, `tracestate`, `baggage`) and `kite-timeout` (milliseconds). Thrift
/// servers skip fields they do not know, so other servers are unaffected; Kite's servers continue
/// the trace and run under the caller's deadline.
enum ThriftCallCoding {
    static let contextFieldID: Int16 = 32767
    static let timeoutKey = "kite-timeout"

    /// A call (or one-way call) message.
    static func call<Request: Encodable>(
        _ request: Request,
        header: ThriftMessageHeader,
        protocol: ThriftProtocol,
        context: [String: String]
    ) throws -> ByteBuffer {
        let box = ThriftWriterBox(ThriftWriter(protocol: `protocol`))
        box.writer.writeMessageBegin(header)
        try ThriftValueCoding.writeStruct(request, to: box) { writer in
            guard !context.isEmpty else { return }
            writer.writeFieldBegin(.map, id: Self.contextFieldID)
            writer.writeMapBegin(key: .string, value: .string, count: context.count)
            for (key, value) in context.sorted(by: { $0.key < $1.key }) {
                writer.writeString(key)
                writer.writeString(value)
            }
        }
        return box.writer.buffer
    }

    /// Kite's context field of an arguments struct, if it has one; `reader` is left as it was.
    static func context(in reader: ThriftReader) throws -> [String: String] {
        var reader = reader
        try reader.readStructBegin()
        while let (type, id) = try reader.readFieldBegin() {
            guard id == Self.contextFieldID, type == .map else {
                try reader.skip(type)
                continue
            }
            let box = ThriftReaderBox(reader)
            return try ThriftValueCoding.read([String: String].self, wireType: .map, from: box)
        }
        return [:]
    }

    /// A reply holding `response`.
    static func reply<Response: Encodable>(_ response: Response, header: ThriftMessageHeader, protocol: ThriftProtocol) throws -> ByteBuffer {
        let box = ThriftWriterBox(ThriftWriter(protocol: `protocol`))
        box.writer.writeMessageBegin(ThriftMessageHeader(name: header.name, type: .reply, sequenceID: header.sequenceID))
        box.writer.writeStructBegin()
        if !(response is ThriftVoid) {
            box.writer.writeFieldBegin(ThriftValueType.of(Response.self), id: 0)
            try ThriftValueCoding.write(response, to: box)
        }
        box.writer.writeFieldStop()
        box.writer.writeStructEnd()
        return box.writer.buffer
    }

    /// A reply holding a declared exception in field `id`.
    static func reply(exception: any ThriftException, id: Int16, header: ThriftMessageHeader, protocol: ThriftProtocol) throws -> ByteBuffer {
        let box = ThriftWriterBox(ThriftWriter(protocol: `protocol`))
        box.writer.writeMessageBegin(ThriftMessageHeader(name: header.name, type: .reply, sequenceID: header.sequenceID))
        box.writer.writeStructBegin()
        box.writer.writeFieldBegin(.struct, id: id)
        try ThriftValueCoding.writeStruct(exception, to: box)
        box.writer.writeFieldStop()
        box.writer.writeStructEnd()
        return box.writer.buffer
    }

    /// An exception message holding `error`.
    static func exception(_ error: ThriftApplicationError, header: ThriftMessageHeader, protocol: ThriftProtocol) -> ByteBuffer {
        let box = ThriftWriterBox(ThriftWriter(protocol: `protocol`))
        box.writer.writeMessageBegin(ThriftMessageHeader(name: header.name, type: .exception, sequenceID: header.sequenceID))
        // Written by hand: it cannot fail.
        box.writer.writeStructBegin()
        box.writer.writeFieldBegin(.string, id: 1)
        box.writer.writeString(error.message)
        box.writer.writeFieldBegin(.i32, id: 2)
        box.writer.writeI32(error.kind.rawValue)
        box.writer.writeFieldStop()
        box.writer.writeStructEnd()
        return box.writer.buffer
    }

    /// The response of a reply whose header has been read: field 0, or the declared exception
    /// it holds (thrown), or the ``ThriftApplicationError`` of an exception message (thrown).
    static func response<Response: Decodable>(
        _ type: Response.Type,
        header: ThriftMessageHeader,
        reader: ThriftReader,
        exceptions: ThriftExceptions
    ) throws -> Response {
        let box = ThriftReaderBox(reader)
        switch header.type {
        case .exception:
            throw try ThriftValueCoding.read(ThriftApplicationError.self, wireType: .struct, from: box)
        case .reply:
            break
        case .call, .oneway:
            throw ThriftApplicationError(.invalidMessageType, "a \(header.type) where a reply was expected")
        }
        try box.reader.readStructBegin()
        while let (fieldType, id) = try box.reader.readFieldBegin() {
            if id == 0 {
                var boolValue: Bool?
                if fieldType == .bool, box.reader.protocolKind == .compact { boolValue = try box.reader.readBool() }
                return try ThriftValueCoding.read(Response.self, wireType: fieldType, from: box, boolValue: boolValue)
            }
            if let exceptionType = exceptions.type(for: id), fieldType == .struct {
                throw try Self.read(exceptionType, from: box)
            }
            try box.reader.skip(fieldType)
        }
        if let void = ThriftVoid() as? Response { return void }
        throw ThriftApplicationError(.missingResult, "\(header.name) failed: unknown result")
    }

    private static func read<Exception: ThriftException>(_ type: Exception.Type, from box: ThriftReaderBox) throws -> Exception {
        try ThriftValueCoding.read(type, wireType: .struct, from: box)
    }

    /// What was wrong with a struct that did not decode.
    static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.map { key in key.intValue.map { "\(key.stringValue) (\($0))" } ?? key.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing field \(path(context.codingPath + [key]))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return context.codingPath.isEmpty ? context.debugDescription : "field \(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
