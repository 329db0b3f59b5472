import Tracing

/// A span's attributes as Kite keeps them: each key once, those set one by one in the order they
/// were first set.
///
/// `SpanAttributes` is a dictionary: setting one attribute hashes its key and, for the first,
/// allocates the table. A span has a handful of attributes, and a list of them compared key by key
/// is cheaper to fill, to move into a ``SpanRecord`` and to walk when encoding. Attributes set
/// through the `Span` protocol's `attributes` (a dictionary, which callers change in place) stay in
/// that dictionary, beside the list; no key is in both. A lookup in the list is a linear scan,
/// which the span limits (``SpanLimits/maxAttributes``, default 128) bound.
public struct SpanAttributeList: Sendable {
    /// One attribute as stored: a struct, whose key a scan reads without copying the value.
    private struct Entry {
        var key: String
        var value: StoredAttribute
    }

    private var entries: ContiguousArray<Entry> = []
    /// The attributes changed through a `SpanAttributes` value: none of its keys is in `entries`.
    /// (Internal: the span hands it out to the protocol's `_modify`, after ``moveEntriesIntoDictionary()``.)
    // Not `SpanAttributes()`: outside its module that is the dictionary literal's initialiser,
    // which builds an empty dictionary from an empty list of pairs.
    var dictionary = SpanAttributes([:])

    /// An empty list.
    public init() {}

    /// The attributes of a `SpanAttributes` value.
    public init(_ attributes: SpanAttributes) {
        self.dictionary = attributes
    }

    /// How many attributes there are.
    public var count: Int { self.entries.count + self.dictionary.count }

    /// Whether there are none.
    public var isEmpty: Bool { self.entries.isEmpty && self.dictionary.isEmpty }

    /// Calls `body` with each attribute: first those set one by one, in order, then the others.
    public func forEach(_ body: (String, SpanAttribute) -> Void) {
        self.forEach(stored: { key, value in body(key, value.spanAttribute) }, other: body)
    }

    /// Calls `stored` with each attribute set one by one, as stored, in order, then `other` with
    /// each of the rest (the encoders' walk, which reads stored values without making them
    /// `SpanAttribute`s).
    func forEach(stored: (String, StoredAttribute) -> Void, other: (String, SpanAttribute) -> Void) {
        // Through the buffer, each key and value is lent to `stored` where it lies; `for entry in`
        // would copy every entry out first (a retain and an outlined copy each).
        self.entries.withUnsafeBufferPointer { entries in
            for index in entries.indices { stored(entries[index].key, entries[index].value) }
        }
        if !self.dictionary.isEmpty { self.dictionary.forEach(other) }
    }

    /// Whether any value ``SpanAttribute/isDescribedByCallerCode`` (a check of each stored
    /// value's case; the dictionary part, when there is one, is walked).
    var hasCallerDescribedValues: Bool {
        var found = false
        self.forEach(
            stored: { _, value in
                if case .other(let box) = value, box.value.isDescribedByCallerCode { found = true }
            },
            other: { _, value in found = found || value.isDescribedByCallerCode }
        )
        return found
    }

    /// The value set for `key`, if any.
    public subscript(key: String) -> SpanAttribute? {
        if let index = self.index(of: key) { return self.entries[index].value.spanAttribute }
        return self.dictionary.isEmpty ? nil : self.dictionary.get(key)
    }

    /// Where `key` is in `entries`. Keys of another length are passed over without comparing
    /// their bytes.
    private func index(of key: String) -> Int? {
        let length = key.utf8.count
        return self.entries.withUnsafeBufferPointer { entries in
            for index in entries.indices where entries[index].key.utf8.count == length && entries[index].key == key {
                return index
            }
            return nil
        }
    }

    /// Sets `key` to `value`, replacing its earlier value or appending it.
    ///
    /// - Parameter limit: The most attributes the list may hold; a new key beyond it is not kept.
    /// - Returns: `false` when the key was new and the list already held `limit` attributes.
    @discardableResult
    @inline(__always)
    public mutating func set(_ key: consuming String, _ value: consuming SpanAttribute, limit: Int = .max) -> Bool {
        self.set(key, stored: StoredAttribute(value), limit: limit)
    }

    /// ``set(_:_:limit:)`` with the value as stored.
    @discardableResult
    @inline(__always)
    mutating func set(_ key: consuming String, stored value: consuming StoredAttribute, limit: Int = .max) -> Bool {
        if let index = self.index(of: key) {
            self.entries[index].value = value
            return true
        }
        if !self.dictionary.isEmpty, self.dictionary.get(key) != nil {
            self.dictionary.set(key, value: nil)
        } else if self.count >= limit {
            return false
        }
        if self.entries.capacity == 0 { self.entries.reserveCapacity(8) }
        self.entries.append(Entry(key: key, value: value))
        return true
    }

    /// Whether ``dictionary`` holds every attribute and has room: what handing it out for
    /// changes needs (see ``moveEntriesIntoDictionary()``).
    var isDictionaryReady: Bool { self.entries.isEmpty && !self.dictionary.isEmpty }

    /// Moves the attributes set one by one into ``dictionary``, before the dictionary is handed
    /// out for changes (which may touch any key).
    mutating func moveEntriesIntoDictionary() {
        if self.dictionary.isEmpty { self.dictionary.reserveCapacity(self.entries.count + 8) }
        for entry in self.entries { self.dictionary.set(entry.key, value: entry.value.spanAttribute) }
        self.entries = []
    }

    /// Keeps at most `limit` attributes (those set one by one first).
    /// - Returns: How many were left out.
    mutating func truncate(to limit: Int) -> Int {
        let dropped = self.count - limit
        guard dropped > 0 else { return 0 }
        var kept = SpanAttributeList()
        self.forEach { key, value in
            if kept.entries.count < limit { kept.entries.append(Entry(key: key, value: StoredAttribute(value))) }
        }
        self = kept
        return dropped
    }

    /// The attributes as swift-distributed-tracing's dictionary.
    public var spanAttributes: SpanAttributes {
        if self.entries.isEmpty { return self.dictionary }
        var attributes = self.dictionary
        attributes.reserveCapacity(self.count)
        for entry in self.entries { attributes.set(entry.key, value: entry.value.spanAttribute) }
        return attributes
    }
}
