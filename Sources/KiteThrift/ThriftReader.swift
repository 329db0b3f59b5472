import NIOCore

/// Reads Thrift values in the binary or compact protocol from a buffer that holds a whole
/// message, within ``ThriftLimits``: every size read from the wire is checked against the
/// limits and against the bytes that remain before anything is allocated for it, and nesting is
/// bounded. Reading past the end throws ``ThriftProtocolError/truncated``.
struct ThriftReader {
    let protocolKind: ThriftProtocol
    let limits: ThriftLimits
    var buffer: ByteBuffer
    private(set) var depth = 0
    /// Compact: the last field id of each struct being read.
    private var lastFieldIDs: [Int16] = []
    private var lastFieldID: Int16 = 0
    /// Compact: the value of a bool field, which came in its header.
    private var pendingBool: Bool?

    init(protocol: ThriftProtocol, limits: ThriftLimits, buffer: ByteBuffer) {
        self.protocolKind = `protocol`
        self.limits = limits
        self.buffer = buffer
    }

    mutating func readMessageBegin() throws(ThriftProtocolError) -> ThriftMessageHeader {
        switch self.protocolKind {
        case .binary:
            let first: Int32 = try self.integer()
            if first < 0 {
                guard UInt32(bitPattern: first) & 0xFFFF_0000 == 0x8001_0000 else {
                    throw ThriftProtocolError("bad binary protocol version \(String(UInt32(bitPattern: first), radix: 16))")
                }
                let type = try Self.messageType(UInt8(truncatingIfNeeded: first))
                let name = try self.readString()
                return ThriftMessageHeader(name: name, type: type, sequenceID: try self.integer())
            }
            // The old, non-strict form: the name's length first.
            let name = try self.readString(count: Int(first))
            let type = try Self.messageType(try self.integer(as: UInt8.self))
            return ThriftMessageHeader(name: name, type: type, sequenceID: try self.integer())
        case .compact:
            guard try self.integer(as: UInt8.self) == ThriftCompactType.protocolID else {
                throw ThriftProtocolError("not the compact protocol (first byte is not 0x82)")
            }
            let versionAndType: UInt8 = try self.integer()
            guard versionAndType & 0x1F == ThriftCompactType.version else {
                throw ThriftProtocolError("bad compact protocol version \(versionAndType & 0x1F)")
            }
            let type = try Self.messageType(versionAndType >> 5)
            let sequenceID = Int32(bitPattern: UInt32(truncatingIfNeeded: try self.readVarint(maxBytes: 5)))
            return ThriftMessageHeader(name: try self.readString(), type: type, sequenceID: sequenceID)
        }
    }

    private static func messageType(_ raw: UInt8) throws(ThriftProtocolError) -> ThriftMessageType {
        guard let type = ThriftMessageType(rawValue: raw) else { throw ThriftProtocolError("unknown message type \(raw)") }
        return type
    }

    mutating func readStructBegin() throws(ThriftProtocolError) {
        try self.enter()
        guard self.protocolKind == .compact else { return }
        self.lastFieldIDs.append(self.lastFieldID)
        self.lastFieldID = 0
    }

    mutating func readStructEnd() {
        self.depth -= 1
        guard self.protocolKind == .compact else { return }
        self.lastFieldID = self.lastFieldIDs.popLast() ?? 0
    }

    /// The next field's type and id, or `nil` at the struct's end.
    mutating func readFieldBegin() throws(ThriftProtocolError) -> (type: ThriftType, id: Int16)? {
        switch self.protocolKind {
        case .binary:
            let raw: UInt8 = try self.integer()
            guard raw != 0 else { return nil }
            return (try Self.type(raw), try self.integer())
        case .compact:
            let header: UInt8 = try self.integer()
            guard header != 0 else { return nil }
            guard let compact = ThriftCompactType(rawValue: header & 0x0F) else {
                throw ThriftProtocolError("unknown compact type \(header & 0x0F)")
            }
            let delta = header >> 4
            let id: Int16
            if delta == 0 {
                let value = Self.unzigzag(try self.readVarint(maxBytes: 3))
                guard let fieldID = Int16(exactly: value) else { throw ThriftProtocolError("field id \(value) out of range") }
                id = fieldID
            } else {
                id = self.lastFieldID &+ Int16(delta)
            }
            self.lastFieldID = id
            switch compact {
            case .booleanTrue: self.pendingBool = true
            case .booleanFalse: self.pendingBool = false
            default: break
            }
            return (compact.thriftType, id)
        }
    }

    private static func type(_ raw: UInt8) throws(ThriftProtocolError) -> ThriftType {
        guard let type = ThriftType(rawValue: raw), type != .stop else { throw ThriftProtocolError("unknown type \(raw)") }
        return type
    }

    mutating func readBool() throws(ThriftProtocolError) -> Bool {
        if let value = self.pendingBool {
            self.pendingBool = nil
            return value
        }
        let byte: UInt8 = try self.integer()
        switch self.protocolKind {
        case .binary: return byte != 0
        case .compact: return byte == ThriftCompactType.booleanTrue.rawValue
        }
    }

    mutating func readByte() throws(ThriftProtocolError) -> Int8 {
        try self.integer()
    }

    mutating func readI16() throws(ThriftProtocolError) -> Int16 {
        switch self.protocolKind {
        case .binary: return try self.integer()
        case .compact:
            let value = Self.unzigzag(try self.readVarint(maxBytes: 3))
            guard let result = Int16(exactly: value) else { throw ThriftProtocolError("i16 out of range") }
            return result
        }
    }

    mutating func readI32() throws(ThriftProtocolError) -> Int32 {
        switch self.protocolKind {
        case .binary: return try self.integer()
        case .compact:
            let value = Self.unzigzag(try self.readVarint(maxBytes: 5))
            guard let result = Int32(exactly: value) else { throw ThriftProtocolError("i32 out of range") }
            return result
        }
    }

    mutating func readI64() throws(ThriftProtocolError) -> Int64 {
        switch self.protocolKind {
        case .binary: return try self.integer()
        case .compact: return Self.unzigzag(try self.readVarint(maxBytes: 10))
        }
    }

    mutating func readDouble() throws(ThriftProtocolError) -> Double {
        switch self.protocolKind {
        case .binary: return Double(bitPattern: try self.integer())
        case .compact:
            guard let bits = self.buffer.readInteger(endianness: .little, as: UInt64.self) else { throw .truncated }
            return Double(bitPattern: bits)
        }
    }

    mutating func readBinary() throws(ThriftProtocolError) -> ByteBuffer {
        let count = try self.readLength()
        guard let bytes = self.buffer.readSlice(length: count) else { throw .truncated }
        return bytes
    }

    mutating func readString() throws(ThriftProtocolError) -> String {
        try self.readString(count: try self.readLength())
    }

    private mutating func readString(count: Int) throws(ThriftProtocolError) -> String {
        guard count >= 0, count <= self.limits.maxStringSize else { throw ThriftProtocolError("string of \(count) bytes past the limit") }
        guard let string = self.buffer.readString(length: count) else { throw .truncated }
        return string
    }

    private mutating func readLength() throws(ThriftProtocolError) -> Int {
        let count: Int
        switch self.protocolKind {
        case .binary: count = Int(try self.integer(as: Int32.self))
        case .compact: count = Int(truncatingIfNeeded: try self.readVarint(maxBytes: 5))
        }
        guard count >= 0, count <= self.limits.maxStringSize else {
            throw ThriftProtocolError("string of \(count) bytes past the limit of \(self.limits.maxStringSize)")
        }
        guard count <= self.buffer.readableBytes else { throw .truncated }
        return count
    }

    /// A list's (or set's) element type and size; call ``readContainerEnd()`` after its elements.
    mutating func readListBegin() throws(ThriftProtocolError) -> (element: ThriftType, count: Int) {
        let element: ThriftType
        let count: Int
        switch self.protocolKind {
        case .binary:
            element = try Self.type(try self.integer())
            count = Int(try self.integer(as: Int32.self))
        case .compact:
            let header: UInt8 = try self.integer()
            element = try Self.compactElement(header & 0x0F)
            let short = Int(header >> 4)
            count = short == 15 ? Int(truncatingIfNeeded: try self.readVarint(maxBytes: 5)) : short
        }
        try self.checkContainer(count: count, bytesEach: element.minimumSize)
        return (element, count)
    }

    /// A map's key and value types and size; call ``readContainerEnd()`` after its entries.
    mutating func readMapBegin() throws(ThriftProtocolError) -> (key: ThriftType, value: ThriftType, count: Int) {
        switch self.protocolKind {
        case .binary:
            let key = try Self.type(try self.integer())
            let value = try Self.type(try self.integer())
            let count = Int(try self.integer(as: Int32.self))
            try self.checkContainer(count: count, bytesEach: key.minimumSize + value.minimumSize)
            return (key, value, count)
        case .compact:
            let count = Int(truncatingIfNeeded: try self.readVarint(maxBytes: 5))
            guard count > 0 else {
                try self.checkContainer(count: 0, bytesEach: 1)
                return (.byte, .byte, 0)
            }
            let types: UInt8 = try self.integer()
            let key = try Self.compactElement(types >> 4)
            let value = try Self.compactElement(types & 0x0F)
            try self.checkContainer(count: count, bytesEach: key.minimumSize + value.minimumSize)
            return (key, value, count)
        }
    }

    mutating func readContainerEnd() {
        self.depth -= 1
    }

    private static func compactElement(_ raw: UInt8) throws(ThriftProtocolError) -> ThriftType {
        guard let type = ThriftCompactType(rawValue: raw), type != .stop else {
            throw ThriftProtocolError("unknown compact element type \(raw)")
        }
        return type.thriftType
    }

    /// Refuses a size past the limit, or one the remaining bytes cannot hold, before anything is
    /// allocated for it; counts the nesting.
    private mutating func checkContainer(count: Int, bytesEach: Int) throws(ThriftProtocolError) {
        guard count >= 0, count <= self.limits.maxContainerSize else {
            throw ThriftProtocolError("container of \(count) elements past the limit of \(self.limits.maxContainerSize)")
        }
        guard count <= self.buffer.readableBytes / max(1, bytesEach) else { throw .truncated }
        try self.enter()
    }

    private mutating func enter() throws(ThriftProtocolError) {
        guard self.depth < self.limits.maxDepth else {
            throw ThriftProtocolError("nested deeper than \(self.limits.maxDepth)")
        }
        self.depth += 1
    }

    /// Reads past a value of `type` (an unknown field, a whole message being measured).
    mutating func skip(_ type: ThriftType) throws(ThriftProtocolError) {
        switch type {
        case .stop: throw ThriftProtocolError("stop where a value was expected")
        case .bool: _ = try self.readBool()
        case .byte: _ = try self.readByte()
        case .i16: _ = try self.readI16()
        case .i32: _ = try self.readI32()
        case .i64: _ = try self.readI64()
        case .double: _ = try self.readDouble()
        case .string: _ = try self.readBinary()
        case .uuid:
            guard self.buffer.readSlice(length: 16) != nil else { throw .truncated }
        case .struct:
            try self.readStructBegin()
            while let (fieldType, _) = try self.readFieldBegin() { try self.skip(fieldType) }
            self.readStructEnd()
        case .list, .set:
            let (element, count) = try self.readListBegin()
            for _ in 0..<count { try self.skip(element) }
            self.readContainerEnd()
        case .map:
            let (key, value, count) = try self.readMapBegin()
            for _ in 0..<count {
                try self.skip(key)
                try self.skip(value)
            }
            self.readContainerEnd()
        }
    }

    private mutating func integer<Integer: FixedWidthInteger>(as type: Integer.Type = Integer.self) throws(ThriftProtocolError) -> Integer {
        guard let value = self.buffer.readInteger(as: Integer.self) else { throw .truncated }
        return value
    }

    private mutating func readVarint(maxBytes: Int) throws(ThriftProtocolError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        for _ in 0..<maxBytes {
            let byte: UInt8 = try self.integer()
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
        throw ThriftProtocolError("varint longer than \(maxBytes) bytes")
    }

    private static func unzigzag(_ value: UInt64) -> Int64 {
        Int64(bitPattern: (value >> 1) ^ (0 &- (value & 1)))
    }
}
