/// The types of Thrift values, numbered as the binary protocol numbers them.
public enum ThriftType: UInt8, Sendable, Hashable {
    case stop = 0
    case bool = 2
    case byte = 3
    case double = 4
    case i16 = 6
    case i32 = 8
    case i64 = 10
    case string = 11
    case `struct` = 12
    case map = 13
    case set = 14
    case list = 15
    case uuid = 16

    /// The fewest bytes a value of this type takes on the wire (in either protocol), to refuse
    /// container sizes the message cannot hold before allocating for them.
    var minimumSize: Int {
        switch self {
        case .stop, .struct: 1
        case .bool, .byte, .i16, .i32, .i64, .string, .map, .set, .list: 1
        case .double: 8
        case .uuid: 16
        }
    }
}

/// The kinds of Thrift messages.
public enum ThriftMessageType: UInt8, Sendable, Hashable {
    case call = 1
    case reply = 2
    case exception = 3
    case oneway = 4
}

/// The start of a Thrift message: the method, the kind and the sequence id that pairs a reply
/// with its call.
public struct ThriftMessageHeader: Sendable, Hashable {
    public var name: String
    public var type: ThriftMessageType
    public var sequenceID: Int32

    public init(name: String, type: ThriftMessageType, sequenceID: Int32) {
        self.name = name
        self.type = type
        self.sequenceID = sequenceID
    }
}

/// The two protocols Kite speaks: binary (strict) and compact.
public enum ThriftProtocol: String, Sendable, Hashable, CaseIterable {
    case binary
    case compact
}

/// How messages are delimited on the connection: framed (a 4-byte big-endian length before each)
/// or buffered (back to back, each read by walking its structure).
public enum ThriftTransport: String, Sendable, Hashable, CaseIterable {
    case framed
    case buffered
}

/// What a Thrift reader accepts from the wire: bounds on what a peer can make it allocate or
/// recurse into.
public struct ThriftLimits: Sendable, Hashable {
    /// The largest message (a frame, or a buffered message), in bytes. Default 16 MiB.
    public var maxMessageSize: Int
    /// The most elements a list, set or map may declare. Default 1,000,000.
    public var maxContainerSize: Int
    /// The longest string or binary, in bytes. Default 16 MiB.
    public var maxStringSize: Int
    /// How deeply structs and containers may nest. Default 64.
    public var maxDepth: Int

    public init(maxMessageSize: Int = 16 << 20, maxContainerSize: Int = 1_000_000, maxStringSize: Int = 16 << 20, maxDepth: Int = 64) {
        self.maxMessageSize = maxMessageSize
        self.maxContainerSize = maxContainerSize
        self.maxStringSize = maxStringSize
        self.maxDepth = maxDepth
    }
}
