import Logging
import Tracing

/// The messages of `opentelemetry/proto/common/v1/common.proto` that every signal shares:
/// `KeyValue` and `AnyValue`.
///
/// `AnyValue` is a `oneof`: its member is written even when it holds a default value (`false`,
/// `0`, `""`), or a decoder could not tell which member was set.
extension ProtobufWriter {
    /// Field numbers of `AnyValue`.
    enum AnyValueField {
        static let string: UInt32 = 1
        static let bool: UInt32 = 2
        static let int: UInt32 = 3
        static let double: UInt32 = 4
        static let array: UInt32 = 5
        static let keyValueList: UInt32 = 6
    }

    /// Writes a `KeyValue` as field `field` of the enclosing message. String values (alone or in
    /// arrays) longer than `maxValueLength` UTF-8 bytes are cut; returns whether any was.
    @discardableResult
    mutating func keyValue(_ field: UInt32, key: String, value: SpanAttribute, maxValueLength: Int) -> Bool {
        // The scalar and string members — nearly every attribute — have lengths known before
        // writing: the pair is written front to back, with no length to patch afterwards.
        switch value {
        case .string(let string): return self.keyValue(field, key: key, string: string, maxBytes: maxValueLength)
        case .stringConvertible(let value):
            return self.keyValue(field, key: key, string: value.description, maxBytes: maxValueLength)
        case .int64(let value): self.keyValue(field, key: key, int: value)
        case .int32(let value): self.keyValue(field, key: key, int: Int64(value))
        case .bool(let value): self.keyValue(field, key: key, bool: value)
        case .double(let value): self.keyValue(field, key: key, double: value)
        default: return self.nestedKeyValue(field, key: key, value: value, maxValueLength: maxValueLength)
        }
        return false
    }

    /// A `KeyValue` for any attribute, its lengths patched in after its members are written.
    private mutating func nestedKeyValue(_ field: UInt32, key: String, value: SpanAttribute, maxValueLength: Int) -> Bool {
        var truncated = false
        self.message(field) { writer in
            writer.stringField(1, key)
            writer.message(2) { writer in
                truncated = writer.anyValue(value, maxValueLength: maxValueLength)
            }
        }
        return truncated
    }

    /// Writes a `KeyValue` holding a string.
    mutating func keyValue(_ field: UInt32, key: String, string: String) {
        self.keyValue(field, key: key, string: string, maxBytes: .max)
    }

    /// Writes a `KeyValue` holding at most `maxBytes` bytes of a string (cut at a scalar
    /// boundary); returns whether it was cut.
    @discardableResult
    mutating func keyValue(_ field: UInt32, key: String, string: String, maxBytes: Int) -> Bool {
        Self.withUTF8(string) { value in
            let length = Self.prefixLength(of: value, maxBytes: maxBytes)
            self.keyValue(field, key: key, .string(UnsafeRawBufferPointer(rebasing: value[..<length])))
            return length < value.count
        }
    }

    /// Writes a `KeyValue` holding an integer.
    private mutating func keyValue(_ field: UInt32, key: String, int: Int64) {
        self.keyValue(field, key: key, .int(int))
    }

    /// Writes a `KeyValue` holding a Boolean.
    private mutating func keyValue(_ field: UInt32, key: String, bool: Bool) {
        self.keyValue(field, key: key, .bool(bool))
    }

    /// Writes a `KeyValue` holding a double.
    private mutating func keyValue(_ field: UInt32, key: String, double: Double) {
        self.keyValue(field, key: key, .double(double))
    }

    /// Writes a `KeyValue` holding a scalar or a string: front to back, both lengths known up
    /// front.
    @inline(__always)
    private mutating func keyValue(_ field: UInt32, key: String, _ value: ScalarKeyValue.Value) {
        Self.withUTF8(key) { key in
            let keyValue = ScalarKeyValue(field: field, key: key, value: value)
            self.store(keyValue.size) { keyValue.store(at: $0) }
        }
    }

    /// Writes a `KeyValue` holding swift-log metadata (strings, string-convertibles, arrays and
    /// dictionaries, nested as `ArrayValue` and `KeyValueList`).
    mutating func keyValue(_ field: UInt32, key: String, metadata: Logger.MetadataValue) {
        self.message(field) { writer in
            writer.stringField(1, key)
            writer.message(2) { writer in
                writer.anyValue(metadata)
            }
        }
    }

    /// The members of one `AnyValue` for a span attribute (any of its members: arrays are
    /// written here alone).
    private mutating func anyValue(_ value: SpanAttribute, maxValueLength: Int) -> Bool {
        switch value {
        case .int32(let value): self.anyInt(Int64(value))
        case .int64(let value): self.anyInt(value)
        case .double(let value): self.anyDouble(value)
        case .bool(let value): self.anyBool(value)
        case .string(let value): return self.anyString(value, maxBytes: maxValueLength)
        case .stringConvertible(let value): return self.anyString(value.description, maxBytes: maxValueLength)
        case .int32Array(let values): self.anyArray(values) { $0.anyInt(Int64($1)) }
        case .int64Array(let values): self.anyArray(values) { $0.anyInt($1) }
        case .doubleArray(let values): self.anyArray(values) { $0.anyDouble($1) }
        case .boolArray(let values): self.anyArray(values) { $0.anyBool($1) }
        case .stringArray(let values):
            var truncated = false
            self.anyArray(values) { truncated = $0.anyString($1, maxBytes: maxValueLength) || truncated }
            return truncated
        case .stringConvertibleArray(let values):
            var truncated = false
            self.anyArray(values) { truncated = $0.anyString($1.description, maxBytes: maxValueLength) || truncated }
            return truncated
        default:
            // A case added to the tracing API after this was written: its text form.
            return self.anyString(value.textValue, maxBytes: maxValueLength)
        }
        return false
    }

    /// The members of one `AnyValue` for log metadata.
    private mutating func anyValue(_ value: Logger.MetadataValue) {
        switch value {
        case .string(let string): self.anyString(string, maxBytes: .max)
        case .stringConvertible(let convertible): self.anyString(convertible.description, maxBytes: .max)
        case .array(let values): self.anyArray(values) { $0.anyValue($1) }
        case .dictionary(let dictionary):
            self.message(AnyValueField.keyValueList, reserving: 2) { writer in
                for (key, value) in dictionary {
                    writer.keyValue(1, key: key, metadata: value)
                }
            }
        }
    }

    /// The `string_value` member of an `AnyValue`, written even when empty — also when the
    /// length limit cuts it to nothing.
    @discardableResult
    mutating func anyString(_ value: String, maxBytes: Int) -> Bool {
        self.stringField(AnyValueField.string, value, maxBytes: maxBytes, always: true)
    }

    /// The `int_value` member of an `AnyValue`, written even when 0.
    mutating func anyInt(_ value: Int64) {
        self.tag(AnyValueField.int, .varint)
        self.varint(UInt64(bitPattern: value))
    }

    private mutating func anyDouble(_ value: Double) {
        self.doubleField(AnyValueField.double, value, always: true)
    }

    private mutating func anyBool(_ value: Bool) {
        self.tag(AnyValueField.bool, .varint)
        self.varint(value ? 1 : 0)
    }

    /// An `ArrayValue` whose `values` (field 1) are `AnyValue`s written by `element`.
    private mutating func anyArray<Element>(_ values: [Element], _ element: (inout ProtobufWriter, Element) -> Void) {
        self.message(AnyValueField.array, reserving: 2) { writer in
            for value in values {
                writer.message(1) { element(&$0, value) }
            }
        }
    }
}
