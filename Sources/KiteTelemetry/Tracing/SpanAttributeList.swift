import Tracing

/// A span's attributes as Kite keeps them: each key once, those set one by one in the order they
/// were first set.
///
/// `SpanAttributes` is a dictionary: setting one attribute hashes its key and, for the first,
/// allocates the table. A span has a handful of attributes. Those set one by one are kept
/// encoded as OTLP carries them (``EncodedAttributes``): setting one encodes it after the others,
/// or over its earlier value, found by comparing keys' bytes; encoding the span copies them in one
/// piece. Attributes set through the `Span` protocol's `attributes` (a dictionary, which callers
/// change in place) stay in that dictionary, beside them; no key is in both. A lookup is a linear
/// scan, which the span limits (``SpanLimits/maxAttributes``, default 128) bound.
public struct SpanAttributeList: Sendable {
    private var entries = EncodedAttributes()
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
    public var isEmpty: Bool { self.entries.count == 0 && self.dictionary.isEmpty }

    /// Calls `body` with each attribute: first those set one by one, in order, then the others.
    public func forEach(_ body: (String, SpanAttribute) -> Void) {
        self.forEach(stored: { key, value in body(key, value.spanAttribute) }, other: body)
    }

    /// Calls `stored` with each attribute set one by one, as stored, in order, then `other` with
    /// each of the rest.
    func forEach(stored: (String, StoredAttribute) -> Void, other: (String, SpanAttribute) -> Void) {
        self.entries.forEach(stored)
        if !self.dictionary.isEmpty { self.dictionary.forEach(other) }
    }

    /// Calls `stored` with each attribute set one by one, as its text (see
    /// ``EncodedAttributes/forEachText(_:)``), in order, then `other` with each of the rest.
    func forEachText(stored: (UnsafeBufferPointer<UInt8>, AttributeText) -> Void, other: (String, SpanAttribute) -> Void) {
        self.entries.forEachText(stored)
        if !self.dictionary.isEmpty { self.dictionary.forEach(other) }
    }

    /// Whether any value ``SpanAttribute/isDescribedByCallerCode``.
    var hasCallerDescribedValues: Bool {
        self.entries.hasCallerDescribedValues || (!self.dictionary.isEmpty && self.dictionary.hasCallerDescribedValues)
    }

    /// The value set for `key`, if any.
    public subscript(key: String) -> SpanAttribute? {
        if let value = self.entries.value(of: key) { return value.spanAttribute }
        return self.dictionary.isEmpty ? nil : self.dictionary.get(key)
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
        var mayAppend = true
        if !self.dictionary.isEmpty, self.dictionary.get(key) != nil {
            self.dictionary.set(key, value: nil)
        } else {
            mayAppend = self.count < limit
        }
        return self.entries.set(key, value, mayAppend: mayAppend)
    }

    /// Writes the attributes as `Span.attributes` fields (see
    /// ``EncodedAttributes/write(into:maxValueLength:)``); returns how many values were cut.
    func write(into writer: inout ProtobufWriter, maxValueLength: Int) -> Int {
        var truncated = self.entries.write(into: &writer, maxValueLength: maxValueLength)
        if !self.dictionary.isEmpty {
            self.dictionary.forEach { key, value in
                if writer.keyValue(EncodedAttributes.field, key: key, value: value, maxValueLength: maxValueLength) { truncated += 1 }
            }
        }
        return truncated
    }

    /// Whether ``dictionary`` holds every attribute and has room: what handing it out for
    /// changes needs (see ``moveEntriesIntoDictionary()``).
    var isDictionaryReady: Bool { self.entries.count == 0 && !self.dictionary.isEmpty }

    /// Moves the attributes set one by one into ``dictionary``, before the dictionary is handed
    /// out for changes (which may touch any key).
    mutating func moveEntriesIntoDictionary() {
        if self.dictionary.isEmpty { self.dictionary.reserveCapacity(self.entries.count + 8) }
        // Taken out first: the dictionary is changed in place, not copied while the list holds it.
        let entries = self.entries
        self.entries = EncodedAttributes()
        entries.forEach { key, value in self.dictionary.set(key, value: value.spanAttribute) }
    }

    /// Keeps at most `limit` attributes (those set one by one first).
    /// - Returns: How many were left out.
    mutating func truncate(to limit: Int) -> Int {
        let dropped = self.count - limit
        guard dropped > 0 else { return 0 }
        var kept = SpanAttributeList()
        self.forEach(
            stored: { key, value in if kept.count < limit { kept.set(key, stored: value) } },
            other: { key, value in if kept.count < limit { kept.set(key, value) } }
        )
        self = kept
        return dropped
    }

    /// The attributes as swift-distributed-tracing's dictionary.
    public var spanAttributes: SpanAttributes {
        if self.entries.count == 0 { return self.dictionary }
        var attributes = self.dictionary
        attributes.reserveCapacity(self.count)
        self.entries.forEach { key, value in attributes.set(key, value: value.spanAttribute) }
        return attributes
    }
}
