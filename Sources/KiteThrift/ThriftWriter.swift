import NIOCore

/// Writes Thrift values in the binary or compact protocol into a buffer.
struct ThriftWriter {
    let protocolKind: ThriftProtocol
    var buffer: ByteBuffer
    /// Compact: the last field id of each struct being written (ids are written as deltas).
    private var lastFieldIDs: [Int16] = []
    private var lastFieldID: Int16 = 0
    /// Compact: a bool field whose header waits for its value (the value is in the header).
    private var pendingBoolField: Int16?

    init(protocol: ThriftProtocol, buffer: ByteBuffer = ByteBuffer()) {
        self.protocolKind = `protocol`
        self.buffer = buffer
    }

    mutating func writeMessageBegin(_ header: ThriftMessageHeader) {
        switch self.protocolKind {
        case .binary:
            self.buffer.writeInteger(UInt32(0x8001_0000) | UInt32(header.type.rawValue))
            self.writeString(header.name)
            self.buffer.writeInteger(header.sequenceID)
        case .compact:
            self.buffer.writeInteger(ThriftCompactType.protocolID)
            self.buffer.writeInteger((ThriftCompactType.version & 0x1F) | (header.type.rawValue << 5))
            self.writeVarint(UInt64(UInt32(bitPattern: header.sequenceID)))
            self.writeString(header.name)
        }
    }

    mutating func writeStructBegin() {
        guard self.protocolKind == .compact else { return }
        self.lastFieldIDs.append(self.lastFieldID)
        self.lastFieldID = 0
    }

    mutating func writeStructEnd() {
        guard self.protocolKind == .compact else { return }
        self.lastFieldID = self.lastFieldIDs.popLast() ?? 0
    }

    mutating func writeFieldBegin(_ type: ThriftType, id: Int16) {
        switch self.protocolKind {
        case .binary:
            self.buffer.writeInteger(type.rawValue)
            self.buffer.writeInteger(id)
        case .compact:
            if type == .bool {
                self.pendingBoolField = id
            } else {
                self.writeCompactFieldHeader(ThriftCompactType(type).rawValue, id: id)
            }
        }
    }

    private mutating func writeCompactFieldHeader(_ type: UInt8, id: Int16) {
        let delta = Int(id) - Int(self.lastFieldID)
        if delta > 0 && delta <= 15 {
            self.buffer.writeInteger(UInt8(delta) << 4 | type)
        } else {
            self.buffer.writeInteger(type)
            self.writeVarint(UInt64(Self.zigzag(Int64(id))))
        }
        self.lastFieldID = id
    }

    mutating func writeFieldStop() {
        self.buffer.writeInteger(UInt8(0))
    }

    mutating func writeBool(_ value: Bool) {
        if self.protocolKind == .compact {
            let type = value ? ThriftCompactType.booleanTrue : ThriftCompactType.booleanFalse
            if let id = self.pendingBoolField {
                self.pendingBoolField = nil
                self.writeCompactFieldHeader(type.rawValue, id: id)
            } else {
                self.buffer.writeInteger(type.rawValue)
            }
        } else {
            self.buffer.writeInteger(UInt8(value ? 1 : 0))
        }
    }

    mutating func writeByte(_ value: Int8) {
        self.buffer.writeInteger(value)
    }

    mutating func writeI16(_ value: Int16) {
        switch self.protocolKind {
        case .binary: self.buffer.writeInteger(value)
        case .compact: self.writeVarint(Self.zigzag(Int64(value)))
        }
    }

    mutating func writeI32(_ value: Int32) {
        switch self.protocolKind {
        case .binary: self.buffer.writeInteger(value)
        case .compact: self.writeVarint(Self.zigzag(Int64(value)))
        }
    }

    mutating func writeI64(_ value: Int64) {
        switch self.protocolKind {
        case .binary: self.buffer.writeInteger(value)
        case .compact: self.writeVarint(Self.zigzag(value))
        }
    }

    mutating func writeDouble(_ value: Double) {
        switch self.protocolKind {
        case .binary: self.buffer.writeInteger(value.bitPattern)
        case .compact: self.buffer.writeInteger(value.bitPattern, endianness: .little)
        }
    }

    mutating func writeString(_ value: String) {
        let count = value.utf8.count
        self.writeLength(count)
        self.buffer.writeString(value)
    }

    mutating func writeBinary(_ bytes: some Collection<UInt8>) {
        self.writeLength(bytes.count)
        self.buffer.writeBytes(bytes)
    }

    private mutating func writeLength(_ count: Int) {
        switch self.protocolKind {
        case .binary: self.buffer.writeInteger(Int32(truncatingIfNeeded: count))
        case .compact: self.writeVarint(UInt64(count))
        }
    }

    mutating func writeListBegin(_ element: ThriftType, count: Int) {
        switch self.protocolKind {
        case .binary:
            self.buffer.writeInteger(element.rawValue)
            self.buffer.writeInteger(Int32(truncatingIfNeeded: count))
        case .compact:
            let type = ThriftCompactType(element).rawValue
            if count < 15 {
                self.buffer.writeInteger(UInt8(count) << 4 | type)
            } else {
                self.buffer.writeInteger(0xF0 | type)
                self.writeVarint(UInt64(count))
            }
        }
    }

    mutating func writeMapBegin(key: ThriftType, value: ThriftType, count: Int) {
        switch self.protocolKind {
        case .binary:
            self.buffer.writeInteger(key.rawValue)
            self.buffer.writeInteger(value.rawValue)
            self.buffer.writeInteger(Int32(truncatingIfNeeded: count))
        case .compact:
            guard count > 0 else {
                self.buffer.writeInteger(UInt8(0))
                return
            }
            self.writeVarint(UInt64(count))
            self.buffer.writeInteger(ThriftCompactType(key).rawValue << 4 | ThriftCompactType(value).rawValue)
        }
    }

    private mutating func writeVarint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            self.buffer.writeInteger(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        self.buffer.writeInteger(UInt8(rest))
    }

    private static func zigzag(_ value: Int64) -> UInt64 {
        UInt64(bitPattern: (value << 1) ^ (value >> 63))
    }
}
