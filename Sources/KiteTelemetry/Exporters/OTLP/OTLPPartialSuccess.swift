/// The `partial_success` of an OTLP export response (`ExportTracePartialSuccess`,
/// `ExportMetricsPartialSuccess`, `ExportLogsPartialSuccess`: field 1 the rejected count, field 2
/// the message), read from a protobuf response body.
struct OTLPPartialSuccess: Equatable {
    /// Spans, data points or log records the collector rejected.
    var rejected: Int64
    /// Why, in the collector's words.
    var message: String

    /// Reads it from a response body; `nil` when the body holds none (full success) or is not
    /// protobuf the reader understands.
    init?(responseBody body: [UInt8]) {
        var reader = Reader(bytes: body[...])
        guard let partial = reader.lengthDelimitedField(1) else { return nil }
        var inner = Reader(bytes: partial)
        var rejected: Int64 = 0
        var message = ""
        while let (field, wireType) = inner.tag() {
            switch (field, wireType) {
            case (1, 0):
                guard let value = inner.varint() else { return nil }
                rejected = Int64(bitPattern: value)
            case (2, 2):
                guard let bytes = inner.lengthDelimited() else { return nil }
                message = String(decoding: bytes, as: UTF8.self)
            default:
                guard inner.skip(wireType) else { return nil }
            }
        }
        guard rejected != 0 || !message.isEmpty else { return nil }
        self.rejected = rejected
        self.message = message
    }

    /// Just enough of a protobuf reader for the response messages.
    private struct Reader {
        var bytes: ArraySlice<UInt8>

        mutating func varint() -> UInt64? {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while let byte = self.bytes.popFirst() {
                guard shift < 64 else { return nil }
                value |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
            return nil
        }

        mutating func tag() -> (field: UInt64, wireType: UInt64)? {
            guard !self.bytes.isEmpty, let key = self.varint() else { return nil }
            return (key >> 3, key & 7)
        }

        mutating func lengthDelimited() -> ArraySlice<UInt8>? {
            guard let length = self.varint(), length <= self.bytes.count else { return nil }
            let value = self.bytes.prefix(Int(length))
            self.bytes = self.bytes.dropFirst(Int(length))
            return value
        }

        mutating func skip(_ wireType: UInt64) -> Bool {
            switch wireType {
            case 0: return self.varint() != nil
            case 1, 5:
                let size = wireType == 1 ? 8 : 4
                guard self.bytes.count >= size else { return false }
                self.bytes = self.bytes.dropFirst(size)
                return true
            case 2: return self.lengthDelimited() != nil
            default: return false
            }
        }

        /// The last occurrence of length-delimited field `number` at this level.
        mutating func lengthDelimitedField(_ number: UInt64) -> ArraySlice<UInt8>? {
            var found: ArraySlice<UInt8>?
            while let (field, wireType) = self.tag() {
                if field == number && wireType == 2 {
                    guard let value = self.lengthDelimited() else { return nil }
                    found = value
                } else if !self.skip(wireType) {
                    return nil
                }
            }
            return found
        }
    }
}
