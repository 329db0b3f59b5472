import Tracing

/// An attribute value on its way into a ``SpanAttributeList`` and back out of it: the four
/// members nearly every attribute uses held inline, any other `SpanAttribute` behind one reference.
///
/// A `SpanAttribute` is 41 bytes (its largest member is an existential) and a multi-payload enum
/// of thirteen cases; this is 17 bytes and five. The list encodes the four (``EncodedAttributes``)
/// and keeps the box of any other as it is.
enum StoredAttribute: Sendable {
    case string(String)
    case int64(Int64)
    case double(Double)
    case bool(Bool)
    /// Any other member (`int32`, arrays, string-convertibles), as it was set.
    case other(Other)

    /// The box of a less common member.
    final class Other: Sendable {
        let value: SpanAttribute

        init(_ value: SpanAttribute) {
            self.value = value
        }
    }

    /// Stores `value`.
    @inline(__always)
    init(_ value: SpanAttribute) {
        switch value {
        case .string(let string): self = .string(string)
        case .int64(let int): self = .int64(int)
        case .double(let double): self = .double(double)
        case .bool(let bool): self = .bool(bool)
        default: self = .other(Other(value))
        }
    }

    /// The value as text, as `SpanAttribute.textValue` gives it (a string as it is).
    var textValue: String {
        if case .string(let string) = self { return string }
        return self.spanAttribute.textValue
    }

    /// The value as it was set.
    var spanAttribute: SpanAttribute {
        switch self {
        case .string(let string): .string(string)
        case .int64(let int): .int64(int)
        case .double(let double): .double(double)
        case .bool(let bool): .bool(bool)
        case .other(let other): other.value
        }
    }
}
