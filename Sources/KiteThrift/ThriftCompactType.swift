/// The compact protocol's own type numbers.
enum ThriftCompactType: UInt8 {
    case stop = 0
    case booleanTrue = 1
    case booleanFalse = 2
    case byte = 3
    case i16 = 4
    case i32 = 5
    case i64 = 6
    case double = 7
    case binary = 8
    case list = 9
    case set = 10
    case map = 11
    case `struct` = 12
    case uuid = 13

    init(_ type: ThriftType) {
        switch type {
        case .stop: self = .stop
        case .bool: self = .booleanTrue
        case .byte: self = .byte
        case .i16: self = .i16
        case .i32: self = .i32
        case .i64: self = .i64
        case .double: self = .double
        case .string: self = .binary
        case .struct: self = .struct
        case .map: self = .map
        case .set: self = .set
        case .list: self = .list
        case .uuid: self = .uuid
        }
    }

    var thriftType: ThriftType {
        switch self {
        case .stop: .stop
        case .booleanTrue, .booleanFalse: .bool
        case .byte: .byte
        case .i16: .i16
        case .i32: .i32
        case .i64: .i64
        case .double: .double
        case .binary: .string
        case .list: .list
        case .set: .set
        case .map: .map
        case .struct: .struct
        case .uuid: .uuid
        }
    }

    /// The compact protocol's first byte.
    static let protocolID: UInt8 = 0x82
    static let version: UInt8 = 1
}
