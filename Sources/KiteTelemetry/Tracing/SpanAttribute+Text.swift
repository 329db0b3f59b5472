import Tracing

extension SpanAttribute {
    /// The value as plain text (`42`, `true`, `a`, `[a, b]`), for console output.
    public var textValue: String {
        switch self {
        case .int32(let value): String(value)
        case .int64(let value): String(value)
        case .double(let value): String(value)
        case .bool(let value): String(value)
        case .string(let value): value
        case .stringConvertible(let value): value.description
        case .int32Array(let values): "[" + values.map(String.init).joined(separator: ", ") + "]"
        case .int64Array(let values): "[" + values.map(String.init).joined(separator: ", ") + "]"
        case .doubleArray(let values): "[" + values.map { String($0) }.joined(separator: ", ") + "]"
        case .boolArray(let values): "[" + values.map(String.init).joined(separator: ", ") + "]"
        case .stringArray(let values): "[" + values.joined(separator: ", ") + "]"
        case .stringConvertibleArray(let values): "[" + values.map(\.description).joined(separator: ", ") + "]"
        default: "\(self)"
        }
    }

    /// Whether turning the value into text runs the caller's code (a `description`), which must
    /// not run where a lock is held that the same code could ask for (it might end a span).
    var isDescribedByCallerCode: Bool {
        switch self {
        case .int32, .int64, .double, .bool, .string, .int32Array, .int64Array, .doubleArray, .boolArray, .stringArray: false
        default: true
        }
    }
}

extension SpanAttributes {
    /// Whether any value ``SpanAttribute/isDescribedByCallerCode``.
    var hasCallerDescribedValues: Bool {
        var found = false
        self.forEach { _, value in found = found || value.isDescribedByCallerCode }
        return found
    }
}
