#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A span's attributes set one by one, kept encoded as OTLP carries them: each a `Span.attributes`
/// field — a `KeyValue`, tag and length included — back to back, in the order they were first set.
///
/// A string, integer, double or Boolean (nearly every attribute) is encoded when it is set, into
/// one block of memory per span: encoding the span copies the block in one piece, and freeing the
/// span frees one block — no list of keys and values to walk, retain and release. A value of any
/// other kind is kept as it was set, beside the block, and encoded with the span (its
/// `description`, for one described by the caller's code, runs then, as before); its place in the
/// order is held by a placeholder entry in the block — the key and the value's index, in a field
/// `KeyValue` does not have — which encoding replaces by the value.
///
/// Reading the attributes back (the `Span` protocol's `attributes`, a ``SpanRecord``'s, the
/// console exporter) decodes the block: a value reads back exactly as it was set.
struct EncodedAttributes: @unchecked Sendable {
    // @unchecked: the block (a `ManagedBuffer`, which cannot itself be `Sendable`) is changed
    // only when this value holds the only reference to it (copy on write); shared, it is read only.

    /// The field number of `Span.attributes`.
    static let field: UInt32 = 9
    /// The tag of `Span.attributes`: field 9, length-delimited.
    private static let entryTag: UInt8 = 0x4A
    /// The tag of a placeholder's index: field 15 of the entry's `KeyValue` (which has two), varint.
    private static let placeholderTag: UInt8 = 0x78
    /// Where a block starts: one allocation of 512 bytes, room for about a dozen attributes.
    private static let initialCapacity = 512 - MemoryLayout<Storage.Header>.stride - 16

    /// The entries' bytes (`nil` until the first attribute).
    private var storage: Storage?
    /// Values of other kinds, by a placeholder's index (one replaced by a scalar stays, unused).
    private var others: ContiguousArray<StoredAttribute.Other> = []
    /// How many attributes there are.
    private(set) var count = 0
    /// A bit for each key length in use, modulo 64: a key whose length has no bit is new, and is
    /// appended without a scan of the others.
    private var keyLengths: UInt64 = 0
    /// The UTF-8 length of the longest string value set (replaced ones included): when no more
    /// than the value length limit, no string needs cutting.
    private var longestString = 0

    init() {}

    /// One entry, as found in the block.
    private struct Entry {
        /// Where its bytes are (from its tag to its end).
        var bytes: Range<Int>
        /// Where its key's UTF-8 bytes are.
        var key: Range<Int>
        var value: DecodedValue
    }

    /// An entry's value, read from the block (a string by where its bytes are).
    private enum DecodedValue {
        case string(Range<Int>)
        case int(Int64)
        case double(Double)
        case bool(Bool)
        case placeholder(Int)
    }

    // MARK: - Setting

    // No closure below changes `self`: a closure that captures a mutable `self` would have every
    // access to it checked at run time.

    /// Sets the attribute `key` to `value`, replacing its earlier value where it was, or appending
    /// it when it is new and `mayAppend` says there is room.
    /// - Returns: Whether the attribute was replaced or appended.
    @inline(__always)
    mutating func set(_ key: String, _ value: StoredAttribute, mayAppend: Bool) -> Bool {
        let entry: Value
        switch value {
        case .string(let string):
            self.longestString = max(self.longestString, string.utf8.count)
            entry = .string(string)
        case .int64(let int): entry = .int(int)
        case .double(let double): entry = .double(double)
        case .bool(let bool): entry = .bool(bool)
        case .other(let other): return self.set(key, other: other, mayAppend: mayAppend)
        }
        // Room for the entry first (a replacement needs no more), then one scan for the key and
        // one write, under one look at the key's bytes.
        let size = Self.size(of: key, entry)
        self.reserveUnique(adding: size)
        let lengthBit = Self.lengthBit(key)
        let mayBeSet = self.keyLengths & lengthBit != 0
        self.keyLengths |= lengthBit
        // The block is this value's own and stays so throughout: borrowed, not retained.
        let outcome = Unmanaged.passUnretained(self.storage.unsafelyUnwrapped)._withUnsafeGuaranteedRef { storage in
            ProtobufWriter.withUTF8(key) { key in
                storage.withUnsafeMutablePointers { header, elements in
                    let bytes = UnsafeMutableRawBufferPointer(start: elements, count: header.pointee.used)
                    let found = mayBeSet ? Self.find(key, in: UnsafeRawBufferPointer(bytes)) : nil
                    guard found != nil || mayAppend else { return Outcome.refused }
                    Self.put(size, over: found?.bytes, in: bytes, used: &header.pointee.used) { Self.store(key, entry, at: $0) }
                    return found == nil ? .appended : .replaced
                }
            }
        }
        if outcome == .appended { self.count += 1 }
        return outcome != .refused
    }

    /// The bit of `key`'s length in ``keyLengths``.
    @inline(__always)
    private static func lengthBit(_ key: String) -> UInt64 {
        1 << UInt64(key.utf8.count & 63)
    }

    /// What setting an attribute did.
    private enum Outcome {
        case appended, replaced, refused
    }

    /// ``set(_:_:mayAppend:)`` for a value of another kind.
    private mutating func set(_ key: String, other: StoredAttribute.Other, mayAppend: Bool) -> Bool {
        let found = self.find(key)
        guard found != nil || mayAppend else { return false }
        if let found, case .placeholder(let index) = found.value {
            // A placeholder stays as it is: only the value it refers to changes.
            self.others[index] = other
            return true
        }
        self.keyLengths |= Self.lengthBit(key)
        self.others.append(other)
        let entry = Value.placeholder(self.others.count - 1)
        let size = Self.size(of: key, entry)
        self.reserveUnique(adding: size)
        self.storage.unsafelyUnwrapped.withUnsafeMutablePointers { header, elements in
            let bytes = UnsafeMutableRawBufferPointer(start: elements, count: header.pointee.used)
            ProtobufWriter.withUTF8(key) { key in
                Self.put(size, over: found?.bytes, in: bytes, used: &header.pointee.used) { Self.store(key, entry, at: $0) }
            }
        }
        if found == nil { self.count += 1 }
        return true
    }

    /// Makes room for `size` bytes after the `bytes` in use (or in place of those in `replaced`,
    /// moving the ones after them) and lets `store` write them there. The block has room.
    @inline(__always)
    private static func put(
        _ size: Int,
        over replaced: Range<Int>?,
        in bytes: UnsafeMutableRawBufferPointer,
        used: inout Int,
        _ store: (UnsafeMutableRawPointer) -> Void
    ) {
        guard let base = bytes.baseAddress else { return }
        if let replaced {
            if size != replaced.count {
                (base + replaced.lowerBound + size).copyMemory(from: base + replaced.upperBound, byteCount: used - replaced.upperBound)
            }
            store(base + replaced.lowerBound)
            used += size - replaced.count
        } else {
            store(base + used)
            used += size
        }
    }

    /// A value as an entry holds it.
    private enum Value {
        case string(String)
        case int(Int64)
        case double(Double)
        case bool(Bool)
        /// Any other kind: the index of the value, kept beside the entries.
        case placeholder(Int)
    }

    /// The bytes the entry of `key` and `value` takes.
    @inline(__always)
    private static func size(of key: String, _ value: Value) -> Int {
        let keyLength = key.utf8.count
        switch value {
        case .string(let string): return ScalarKeyValue.size(field: Self.field, keyLength: keyLength, value: .stringLength(string.utf8.count))
        case .int(let int): return ScalarKeyValue.size(field: Self.field, keyLength: keyLength, value: .int(int))
        case .double: return ScalarKeyValue.size(field: Self.field, keyLength: keyLength, value: .double)
        case .bool: return ScalarKeyValue.size(field: Self.field, keyLength: keyLength, value: .bool)
        case .placeholder(let index):
            // The tag, the length, the key field, the index field.
            let length = Self.placeholderLength(keyLength: keyLength, index: index)
            return 1 + ProtobufWriter.varintSize(UInt64(length)) + length
        }
    }

    /// The length of a placeholder's `KeyValue`: its key field (always written) and its index field.
    private static func placeholderLength(keyLength: Int, index: Int) -> Int {
        1 + ProtobufWriter.varintSize(UInt64(keyLength)) + keyLength + 1 + ProtobufWriter.varintSize(UInt64(index))
    }

    /// Stores the entry of `key` and `value` at `target` (``size(of:_:)`` bytes).
    @inline(__always)
    private static func store(_ key: UnsafeRawBufferPointer, _ value: Value, at target: UnsafeMutableRawPointer) {
        do {
            switch value {
            case .string(let string):
                ProtobufWriter.withUTF8(string) { ScalarKeyValue(field: Self.field, key: key, value: .string($0)).store(at: target) }
            case .int(let int): ScalarKeyValue(field: Self.field, key: key, value: .int(int)).store(at: target)
            case .double(let double): ScalarKeyValue(field: Self.field, key: key, value: .double(double)).store(at: target)
            case .bool(let bool): ScalarKeyValue(field: Self.field, key: key, value: .bool(bool)).store(at: target)
            case .placeholder(let index):
                target.storeBytes(of: Self.entryTag, as: UInt8.self)
                let length = Self.placeholderLength(keyLength: key.count, index: index)
                var offset = 1 + ProtobufWriter.storeVarint(UInt64(length), at: target + 1)
                target.storeBytes(of: 0x0A, toByteOffset: offset, as: UInt8.self)
                offset += 1
                offset += ProtobufWriter.storeVarint(UInt64(key.count), at: target + offset)
                ProtobufWriter.copy(key, to: target + offset)
                offset += key.count
                target.storeBytes(of: Self.placeholderTag, toByteOffset: offset, as: UInt8.self)
                _ = ProtobufWriter.storeVarint(UInt64(index), at: target + offset + 1)
            }
        }
    }

    /// Makes the block this value's own, not shared with any copy of the list, with room for
    /// `extra` more bytes.
    @inline(__always)
    private mutating func reserveUnique(adding extra: Int) {
        // Uniqueness first: a reference bound before the check would be a second one.
        let unique = isKnownUniquelyReferenced(&self.storage)
        let used = self.storage?.used ?? 0
        if unique, used + extra <= self.storage?.reserved ?? 0 { return }
        self.replaceStorage(unique: unique, used: used, adding: extra)
    }

    /// Replaces the block (or its absence) by a new one holding its `used` bytes, with room for
    /// `extra` more: a shared block is copied at its size; a full one grows to twice its size.
    @inline(never)
    private mutating func replaceStorage(unique: Bool, used: Int, adding extra: Int) {
        var capacity = self.storage.map { unique ? $0.reserved * 2 : $0.reserved } ?? Self.initialCapacity
        while capacity < used + extra { capacity *= 2 }
        let storage = Storage.make(capacity: capacity)
        if let old = self.storage {
            storage.withUnsafeMutablePointers { header, elements in
                old.withUnsafeMutablePointerToElements { UnsafeMutableRawPointer(elements).copyMemory(from: $0, byteCount: used) }
                header.pointee.used = used
            }
        }
        self.storage = storage
    }

    // MARK: - Reading

    /// Calls `body` with the entries' bytes.
    @inline(__always)
    private func withBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        guard self.storage != nil else { return body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        // Borrowed, not retained: this value holds the block throughout.
        return Unmanaged.passUnretained(self.storage.unsafelyUnwrapped)._withUnsafeGuaranteedRef { storage in
            storage.withUnsafeMutablePointers { header, elements in
                body(UnsafeRawBufferPointer(start: elements, count: header.pointee.used))
            }
        }
    }

    /// The entry whose key is `key`, if any.
    @inline(__always)
    private func find(_ key: String) -> Entry? {
        guard self.keyLengths & Self.lengthBit(key) != 0 else { return nil }
        return ProtobufWriter.withUTF8(key) { self.find($0) }
    }

    /// The entry whose key's UTF-8 bytes are `key`, if any.
    @inline(__always)
    private func find(_ key: UnsafeRawBufferPointer) -> Entry? {
        self.withBytes { Self.find(key, in: $0) }
    }

    /// The entry in `bytes` whose key's UTF-8 bytes are `key`, if any.
    @inline(__always)
    private static func find(_ key: UnsafeRawBufferPointer, in bytes: UnsafeRawBufferPointer) -> Entry? {
        var offset = 0
        while offset < bytes.count {
            // The entry's length and key alone; its value is read for the one that matches.
            var index = offset + 1
            let end = Int(Self.varint(in: bytes, at: &index)) + index
            var keyLength = 0
            if bytes[index] == 0x0A {
                index += 1
                keyLength = Int(Self.varint(in: bytes, at: &index))
            }
            if keyLength == key.count && Self.equal(UnsafeRawBufferPointer(rebasing: bytes[index..<(index + keyLength)]), key) {
                return Self.entry(at: offset, in: bytes)
            }
            offset = end
        }
        return nil
    }

    /// Whether two byte sequences of the same length are equal.
    @inline(__always)
    private static func equal(_ left: UnsafeRawBufferPointer, _ right: UnsafeRawBufferPointer) -> Bool {
        guard let leftBase = left.baseAddress, let rightBase = right.baseAddress else { return true }
        return memcmp(leftBase, rightBase, left.count) == 0
    }

    /// Reads the entry that starts at `offset` (entries are written by this type alone: their
    /// shape is known).
    @inline(__always)
    private static func entry(at offset: Int, in bytes: UnsafeRawBufferPointer) -> Entry {
        var index = offset + 1  // past the tag
        let length = Self.varint(in: bytes, at: &index)
        let end = index + Int(length)
        var key = index..<index
        if bytes[index] == 0x0A {
            index += 1
            let keyLength = Int(Self.varint(in: bytes, at: &index))
            key = index..<(index + keyLength)
            index += keyLength
        }
        if bytes[index] == Self.placeholderTag {
            index += 1
            return Entry(bytes: offset..<end, key: key, value: .placeholder(Int(Self.varint(in: bytes, at: &index))))
        }
        index += 1  // the value field's tag
        _ = Self.varint(in: bytes, at: &index)  // its length
        let member = bytes[index]
        index += 1
        let value: DecodedValue
        switch member {
        case 0x0A:
            let stringLength = Int(Self.varint(in: bytes, at: &index))
            value = .string(index..<(index + stringLength))
        case 0x18: value = .int(Int64(bitPattern: Self.varint(in: bytes, at: &index)))
        case 0x21: value = .double(Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self))))
        default: value = .bool(bytes[index] != 0)
        }
        return Entry(bytes: offset..<end, key: key, value: value)
    }

    /// Reads a varint at `index`, moving `index` past it.
    @inline(__always)
    private static func varint(in bytes: UnsafeRawBufferPointer, at index: inout Int) -> UInt64 {
        let first = bytes[index]
        if first < 0x80 {
            // Lengths under 128: one byte.
            index += 1
            return UInt64(first)
        }
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = bytes[index]
            index += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
    }

    /// Calls `body` with each attribute, in order, decoded.
    func forEach(_ body: (String, StoredAttribute) -> Void) {
        self.forEachEntry { entry, bytes in
            body(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[entry.key]), as: UTF8.self), self.stored(entry.value, in: bytes))
        }
    }

    /// Calls `body` with each attribute, in order: the key's UTF-8 bytes, and a string value's
    /// bytes where they lie — no string made for either — or the text of any other value (as
    /// ``StoredAttribute/textValue``). The bytes are valid only during the call.
    func forEachText(_ body: (UnsafeBufferPointer<UInt8>, AttributeText) -> Void) {
        self.forEachEntry { entry, bytes in
            let key = UnsafeRawBufferPointer(rebasing: bytes[entry.key]).assumingMemoryBound(to: UInt8.self)
            switch entry.value {
            case .string(let range):
                body(key, .utf8(UnsafeRawBufferPointer(rebasing: bytes[range]).assumingMemoryBound(to: UInt8.self)))
            default:
                body(key, .text(self.stored(entry.value, in: bytes).textValue))
            }
        }
    }

    /// Calls `body` with each entry, in order, and the bytes it lies in (lent for the call).
    private func forEachEntry(_ body: (Entry, UnsafeRawBufferPointer) -> Void) {
        guard self.count > 0 else { return }
        self.withBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let entry = Self.entry(at: offset, in: bytes)
                body(entry, bytes)
                offset = entry.bytes.upperBound
            }
        }
    }

    /// The value of `key`, if it is set.
    func value(of key: String) -> StoredAttribute? {
        guard let entry = self.find(key) else { return nil }
        return self.withBytes { self.stored(entry.value, in: $0) }
    }

    /// A value as it was set.
    private func stored(_ value: DecodedValue, in bytes: UnsafeRawBufferPointer) -> StoredAttribute {
        switch value {
        case .string(let range): .string(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self))
        case .int(let int): .int64(int)
        case .double(let double): .double(double)
        case .bool(let bool): .bool(bool)
        case .placeholder(let index): .other(self.others[index])
        }
    }

    /// Whether any value in use is described by the caller's code (see
    /// ``SpanAttribute/isDescribedByCallerCode``).
    var hasCallerDescribedValues: Bool {
        // Unused values count too: a needless early encoding is harmless, and rare.
        self.others.contains { $0.value.isDescribedByCallerCode }
    }

    // MARK: - Encoding

    /// Writes the attributes as `Span.attributes` fields, string values cut to `maxValueLength`
    /// UTF-8 bytes. When there is nothing to cut and no value of another kind, that is one copy
    /// of the block.
    /// - Returns: How many values were cut.
    func write(into writer: inout ProtobufWriter, maxValueLength: Int) -> Int {
        // Decided before the bytes are lent: a closure that read `self` would hold a copy of it.
        guard self.others.isEmpty && self.longestString <= maxValueLength else {
            return self.writeEntries(into: &writer, maxValueLength: maxValueLength)
        }
        self.withBytes { writer.append($0) }
        return 0
    }

    /// ``write(into:maxValueLength:)`` entry by entry: values of other kinds encoded, strings
    /// past the limit cut.
    private func writeEntries(into writer: inout ProtobufWriter, maxValueLength: Int) -> Int {
        self.withBytes { bytes in
            var truncated = 0
            var offset = 0
            while offset < bytes.count {
                let entry = Self.entry(at: offset, in: bytes)
                let key = UnsafeRawBufferPointer(rebasing: bytes[entry.key])
                switch entry.value {
                case .placeholder(let index):
                    let key = String(decoding: key, as: UTF8.self)
                    if writer.keyValue(Self.field, key: key, value: self.others[index].value, maxValueLength: maxValueLength) { truncated += 1 }
                case .string(let range) where range.count > maxValueLength:
                    let string = UnsafeRawBufferPointer(rebasing: bytes[range])
                    let kept = ProtobufWriter.prefixLength(of: string, maxBytes: maxValueLength)
                    let cut = ScalarKeyValue(field: Self.field, key: key, value: .string(UnsafeRawBufferPointer(rebasing: string[..<kept])))
                    writer.store(cut.size) { cut.store(at: $0) }
                    truncated += 1
                default:
                    writer.append(UnsafeRawBufferPointer(rebasing: bytes[entry.bytes]))
                }
                offset = entry.bytes.upperBound
            }
            return truncated
        }
    }

    // MARK: - Storage

    /// The block: a header, then the entries' bytes.
    final class Storage: ManagedBuffer<Storage.Header, UInt8> {
        struct Header {
            /// Bytes written.
            var used: Int
            /// Bytes reserved.
            var capacity: Int
        }

        // Read through the header's pointer: `header`, a class's property, would have each
        // access checked for exclusivity at run time.

        /// Bytes written.
        var used: Int { self.withUnsafeMutablePointerToHeader { $0.pointee.used } }
        /// Bytes reserved.
        var reserved: Int { self.withUnsafeMutablePointerToHeader { $0.pointee.capacity } }

        /// A block with room for `capacity` bytes.
        static func make(capacity: Int) -> Storage {
            let buffer = Storage.create(minimumCapacity: capacity) { _ in Header(used: 0, capacity: capacity) }
            return unsafeDowncast(buffer, to: Storage.self)
        }
    }
}
