/// Writes the protobuf wire format straight into a byte array, no message objects in between.
///
/// Fields are written in the order the caller chooses (decoders accept any order). proto3 default
/// values (0, empty) are skipped by the scalar writers, as a generated encoder would. A nested
/// message is written in place: ``message(_:reserving:_:)`` reserves room for its length, the
/// body is written after it, and the length is patched in afterwards (moving the body only when
/// the reservation was the wrong size).
///
/// The buffer keeps its capacity across ``reset()``, so an encoder that is reused allocates
/// nothing once it has grown to the size of its largest batch.
struct ProtobufWriter: Sendable {
    /// The bytes written so far.
    private(set) var bytes: [UInt8]

    /// Protobuf wire types.
    enum WireType: UInt32 {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
        case fixed32 = 5
    }

    /// Creates a writer with room for `capacity` bytes.
    init(capacity: Int = 0) {
        self.bytes = []
        self.bytes.reserveCapacity(capacity)
    }

    /// Empties the buffer, keeping its capacity.
    mutating func reset() {
        self.bytes.removeAll(keepingCapacity: true)
    }

    /// Removes everything written after the first `count` bytes.
    mutating func truncate(to count: Int) {
        self.bytes.removeSubrange(count...)
    }

    // MARK: - Raw encodings

    mutating func tag(_ field: UInt32, _ wireType: WireType) {
        self.varint(UInt64(field << 3 | wireType.rawValue))
    }

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            self.bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        self.bytes.append(UInt8(truncatingIfNeeded: value))
    }

    mutating func littleEndian64(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { self.bytes.append(contentsOf: $0) }
    }

    mutating func littleEndian32(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { self.bytes.append(contentsOf: $0) }
    }

    // MARK: - Fields

    /// A `uint32`/`uint64`/`int64`/`bool`/enum field (varint); skipped when 0.
    mutating func varintField(_ field: UInt32, _ value: UInt64) {
        guard value != 0 else { return }
        self.tag(field, .varint)
        self.varint(value)
    }

    /// An `int64` field (two's complement varint); skipped when 0.
    mutating func int64Field(_ field: UInt32, _ value: Int64) {
        self.varintField(field, UInt64(bitPattern: value))
    }

    /// A `bool` field; skipped when false.
    mutating func boolField(_ field: UInt32, _ value: Bool) {
        self.varintField(field, value ? 1 : 0)
    }

    /// A `fixed64`/`sfixed64` field; skipped when 0.
    mutating func fixed64Field(_ field: UInt32, _ value: UInt64) {
        guard value != 0 else { return }
        self.tag(field, .fixed64)
        self.littleEndian64(value)
    }

    /// A `fixed32` field; skipped when 0.
    mutating func fixed32Field(_ field: UInt32, _ value: UInt32) {
        guard value != 0 else { return }
        self.tag(field, .fixed32)
        self.littleEndian32(value)
    }

    /// A `double` field; skipped when +0 unless `always` (for proto3 `optional` fields).
    mutating func doubleField(_ field: UInt32, _ value: Double, always: Bool = false) {
        guard always || value.bitPattern != 0 else { return }
        self.tag(field, .fixed64)
        self.littleEndian64(value.bitPattern)
    }

    /// A `string` field; skipped when empty.
    mutating func stringField(_ field: UInt32, _ value: String) {
        var value = value
        value.withUTF8 { self.bytesField(field, UnsafeRawBufferPointer($0)) }
    }

    /// A `string` field holding at most `maxBytes` bytes of `value`, cut at a character boundary
    /// (Unicode scalar) so the result stays valid UTF-8. Returns whether it was cut.
    @discardableResult
    mutating func stringField(_ field: UInt32, _ value: String, maxBytes: Int) -> Bool {
        var value = value
        return value.withUTF8 { utf8 in
            guard utf8.count > maxBytes else {
                self.bytesField(field, UnsafeRawBufferPointer(utf8))
                return false
            }
            var end = maxBytes
            // Back up over continuation bytes (10xxxxxx) to the start of a scalar.
            while end > 0 && utf8[end] & 0xC0 == 0x80 { end -= 1 }
            self.bytesField(field, UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: utf8[..<end])))
            return true
        }
    }

    /// A `bytes` field; skipped when empty.
    mutating func bytesField(_ field: UInt32, _ value: UnsafeRawBufferPointer) {
        guard !value.isEmpty else { return }
        self.tag(field, .lengthDelimited)
        self.varint(UInt64(value.count))
        self.bytes.append(contentsOf: value)
    }

    /// A `bytes` field from a fixed-size value's memory (a trace or span ID); skipped when all zero.
    mutating func idField<ID>(_ field: UInt32, _ id: ID) {
        withUnsafeBytes(of: id) { raw in
            guard raw.contains(where: { $0 != 0 }) else { return }
            self.bytesField(field, raw)
        }
    }

    /// A packed `repeated fixed64` field; skipped when empty.
    mutating func packedFixed64Field(_ field: UInt32, count: Int, _ value: (Int) -> UInt64) {
        guard count > 0 else { return }
        self.tag(field, .lengthDelimited)
        self.varint(UInt64(count * 8))
        for index in 0..<count {
            self.littleEndian64(value(index))
        }
    }

    /// An embedded message (or a packed repeated field) written by `body`, always present (even
    /// when empty). `reserving` is the number of bytes set aside for its length: 1 for messages
    /// expected under 128 bytes, 2 under 16 KiB, 3 under 2 MiB; a wrong guess costs a move of
    /// the body, never a wrong encoding.
    mutating func message(_ field: UInt32, reserving: Int = 1, _ body: (inout ProtobufWriter) -> Void) {
        self.tag(field, .lengthDelimited)
        let start = self.bytes.count
        for _ in 0..<reserving { self.bytes.append(0) }
        body(&self)
        self.patchLength(at: start, reserved: reserving)
    }

    /// Writes the length of the body that follows `reserved` bytes at `start` into them, moving
    /// the body when its length needs more or fewer bytes.
    mutating func patchLength(at start: Int, reserved: Int) {
        let length = self.bytes.count - start - reserved
        var needed = 1
        while length >> (7 * needed) != 0 { needed += 1 }
        if needed > reserved {
            self.bytes.insert(contentsOf: repeatElement(0, count: needed - reserved), at: start + reserved)
        } else if needed < reserved {
            self.bytes.removeSubrange(start + needed..<start + reserved)
        }
        var value = length
        self.bytes.withUnsafeMutableBufferPointer { buffer in
            for index in 0..<needed {
                let more = index < needed - 1
                buffer[start + index] = UInt8(truncatingIfNeeded: value & 0x7F) | (more ? 0x80 : 0)
                value >>= 7
            }
        }
    }

    /// Appends bytes that are already an encoded field (or fields), such as a pre-encoded resource.
    mutating func raw(_ encoded: [UInt8]) {
        self.bytes.append(contentsOf: encoded)
    }
}
