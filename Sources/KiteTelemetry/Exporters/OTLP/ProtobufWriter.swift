/// Writes the protobuf wire format straight into a growing buffer, no message objects in between.
///
/// Fields are written in the order the caller chooses (decoders accept any order). proto3 default
/// values (0, empty) are skipped by the scalar writers, as a generated encoder would. A nested
/// message is written in place: ``message(_:reserving:_:)`` reserves room for its length, the
/// body is written after it, and the length is patched in afterwards (moving the body only when
/// the reservation was the wrong size).
///
/// The writer owns its memory (it is non-copyable, so nothing else can see it change) and keeps it
/// across ``reset()``: an encoder that is reused allocates nothing once it has grown to the size
/// of its largest request. Writes are plain stores after one capacity check — no copy-on-write
/// checks, no reference counting.
struct ProtobufWriter: ~Copyable, @unchecked Sendable {
    // @unchecked: the memory is owned by this value alone (it cannot be copied) and freed in deinit.
    private var base: UnsafeMutableRawPointer
    private var capacity: Int
    /// The number of bytes written.
    private(set) var count: Int = 0

    /// Protobuf wire types.
    enum WireType: UInt32 {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
        case fixed32 = 5
    }

    /// Creates a writer with room for `capacity` bytes.
    init(capacity: Int = 256) {
        self.capacity = max(capacity, 64)
        self.base = UnsafeMutableRawPointer.allocate(byteCount: self.capacity, alignment: 8)
    }

    deinit {
        self.base.deallocate()
    }

    /// Empties the buffer, keeping its memory.
    mutating func reset() {
        self.count = 0
    }

    /// The bytes written so far.
    var bytes: [UInt8] {
        self.withBytes { Array($0) }
    }

    /// Calls `body` with the bytes written so far (valid only during the call).
    func withBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try body(UnsafeRawBufferPointer(start: self.base, count: self.count))
    }

    /// Removes everything written after the first `count` bytes.
    mutating func truncate(to count: Int) {
        self.count = min(count, self.count)
    }

    /// Removes the first `count` bytes written, moving the rest to the front.
    mutating func removeFirst(_ count: Int) {
        let count = min(count, self.count)
        self.base.copyMemory(from: self.base + count, byteCount: self.count - count)
        self.count -= count
    }

    /// The memory reserved, in bytes.
    var reservedCapacity: Int { self.capacity }

    /// Makes room for `extra` more bytes.
    @inline(__always)
    private mutating func reserve(_ extra: Int) {
        if self.count + extra > self.capacity { self.grow(to: self.count + extra) }
    }

    private mutating func grow(to needed: Int) {
        var capacity = self.capacity * 2
        while capacity < needed { capacity *= 2 }
        let base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
        base.copyMemory(from: self.base, byteCount: self.count)
        self.base.deallocate()
        self.base = base
        self.capacity = capacity
    }

    // MARK: - Raw encodings

    @inline(__always)
    mutating func tag(_ field: UInt32, _ wireType: WireType) {
        self.varint(UInt64(field << 3 | wireType.rawValue))
    }

    @inline(__always)
    mutating func varint(_ value: UInt64) {
        self.reserve(10)
        self.count += Self.storeVarint(value, at: self.base + self.count)
    }

    /// Stores `value` as a varint at `target`; returns the number of bytes stored (at most 10).
    @inline(__always)
    static func storeVarint(_ value: UInt64, at target: UnsafeMutableRawPointer) -> Int {
        if value < 0x80 {
            // Tags and most lengths: one byte.
            target.storeBytes(of: UInt8(truncatingIfNeeded: value), as: UInt8.self)
            return 1
        }
        var value = value
        var index = 0
        while value >= 0x80 {
            target.storeBytes(of: UInt8(truncatingIfNeeded: value) | 0x80, toByteOffset: index, as: UInt8.self)
            value >>= 7
            index += 1
        }
        target.storeBytes(of: UInt8(truncatingIfNeeded: value), toByteOffset: index, as: UInt8.self)
        return index + 1
    }

    /// Writes `count` bytes that `body` stores at the address it is given (all of them: the
    /// writer counts them as written).
    @inline(__always)
    mutating func store(_ count: Int, _ body: (UnsafeMutableRawPointer) -> Void) {
        self.reserve(count)
        body(self.base + self.count)
        self.count += count
    }

    @inline(__always)
    mutating func littleEndian64(_ value: UInt64) {
        self.reserve(8)
        self.base.storeBytes(of: value.littleEndian, toByteOffset: self.count, as: UInt64.self)
        self.count += 8
    }

    @inline(__always)
    mutating func littleEndian32(_ value: UInt32) {
        self.reserve(4)
        self.base.storeBytes(of: value.littleEndian, toByteOffset: self.count, as: UInt32.self)
        self.count += 4
    }

    /// Appends raw bytes.
    @inline(__always)
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        self.reserve(bytes.count)
        Self.copy(bytes, to: self.base + self.count)
        self.count += bytes.count
    }

    /// Copies `bytes` to `target`.
    @inline(__always)
    static func copy(_ bytes: UnsafeRawBufferPointer, to target: UnsafeMutableRawPointer) {
        guard let source = bytes.baseAddress else { return }
        let count = bytes.count
        if count >= 8 && count <= 16 {
            // Keys and short values: two overlapping word copies instead of a call to memmove.
            target.storeBytes(of: source.loadUnaligned(as: UInt64.self), as: UInt64.self)
            (target + count - 8).storeBytes(of: (source + count - 8).loadUnaligned(as: UInt64.self), as: UInt64.self)
        } else if count < 8 {
            for index in 0..<count { target.storeBytes(of: source.load(fromByteOffset: index, as: UInt8.self), toByteOffset: index, as: UInt8.self) }
        } else {
            target.copyMemory(from: source, byteCount: count)
        }
    }

    // MARK: - Fields

    /// A `uint32`/`uint64`/`int64`/`bool`/enum field (varint); skipped when 0.
    mutating func varintField(_ field: UInt32, _ value: UInt64) {
        guard value != 0 else { return }
        self.tag(field, .varint)
        self.varint(value)
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
        self.stringField(field, value, maxBytes: .max)
    }

    /// A `string` field holding at most `maxBytes` bytes of `value`, cut at a Unicode scalar
    /// boundary so the result stays valid UTF-8; skipped when empty unless `always` (a `oneof`
    /// member, whose presence is its meaning). Returns whether it was cut.
    @discardableResult
    mutating func stringField(_ field: UInt32, _ value: String, maxBytes: Int, always: Bool = false) -> Bool {
        Self.withUTF8(value) { self.utf8Field(field, $0, maxBytes: maxBytes, always: always) }
    }

    private mutating func utf8Field(_ field: UInt32, _ utf8: UnsafeRawBufferPointer, maxBytes: Int, always: Bool) -> Bool {
        let length = Self.prefixLength(of: utf8, maxBytes: maxBytes)
        self.bytesField(field, UnsafeRawBufferPointer(rebasing: utf8[..<length]), always: always)
        return length < utf8.count
    }

    /// How many bytes of the UTF-8 text `utf8` to keep for at most `maxBytes`: all of them, or
    /// the longest prefix that ends at a Unicode scalar boundary.
    @inline(__always)
    static func prefixLength(of utf8: UnsafeRawBufferPointer, maxBytes: Int) -> Int {
        guard utf8.count > maxBytes else { return utf8.count }
        var end = max(maxBytes, 0)
        // Back up over continuation bytes (10xxxxxx) to the start of a scalar.
        while end > 0 && utf8[end] & 0xC0 == 0x80 { end -= 1 }
        return end
    }

    /// Calls `body` with the UTF-8 bytes of `string`, making a bridged or otherwise
    /// non-contiguous string native first.
    @inline(__always)
    static func withUTF8<Result>(_ string: String, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        if let result = string.utf8.withContiguousStorageIfAvailable({ body(UnsafeRawBufferPointer($0)) }) {
            return result
        }
        var native = string
        native.makeContiguousUTF8()
        return native.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }

    /// The number of bytes `value` takes as a varint.
    @inline(__always)
    static func varintSize(_ value: UInt64) -> Int {
        // 1 + floor(log2(value) / 7), with 0 taking one byte.
        (64 &- (value | 1).leadingZeroBitCount &+ 6) / 7
    }

    /// A `bytes` field; skipped when empty unless `always`.
    @inline(__always)
    mutating func bytesField(_ field: UInt32, _ value: UnsafeRawBufferPointer, always: Bool = false) {
        guard always || !value.isEmpty else { return }
        self.tag(field, .lengthDelimited)
        self.varint(UInt64(value.count))
        if !value.isEmpty { self.append(value) }
    }

    /// A `bytes` field from a fixed-size value's memory (a trace or span ID); skipped when all zero.
    mutating func idField<ID>(_ field: UInt32, _ id: ID) {
        withUnsafeBytes(of: id) { raw in
            guard raw.contains(where: { $0 != 0 }) else { return }
            self.bytesField(field, raw)
        }
    }

    /// A packed `repeated fixed64` (or, by bit pattern, `repeated double`) field; skipped when empty.
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
    @inline(__always)
    mutating func message(_ field: UInt32, reserving: Int = 1, _ body: (inout ProtobufWriter) -> Void) {
        self.tag(field, .lengthDelimited)
        self.reserve(reserving)
        let start = self.count
        self.count += reserving
        body(&self)
        self.patchLength(at: start, reserved: reserving)
    }

    /// Writes the length of the body that follows `reserved` bytes at `start` into them, moving
    /// the body when its length needs more or fewer bytes.
    private mutating func patchLength(at start: Int, reserved: Int) {
        let length = self.count - start - reserved
        var needed = 1
        while length >> (7 * needed) != 0 { needed += 1 }
        if needed != reserved {
            self.reserve(needed - reserved)
            let body = self.base + start + reserved
            (self.base + start + needed).copyMemory(from: body, byteCount: length)
            self.count += needed - reserved
        }
        var value = length
        for index in 0..<needed {
            let more = index < needed - 1
            self.base.storeBytes(of: UInt8(truncatingIfNeeded: value & 0x7F) | (more ? 0x80 : 0), toByteOffset: start + index, as: UInt8.self)
            value >>= 7
        }
    }

    /// Appends bytes that are already an encoded field (or fields), such as a pre-encoded resource.
    mutating func raw(_ encoded: [UInt8]) {
        encoded.withUnsafeBytes { self.append($0) }
    }
}
