/// A finished span already encoded for OTLP — its `ScopeSpans.spans` field, tag and length
/// included — as the batch span processor queues it for an ``OTLPSpanExporter``.
///
/// A span is encoded on the thread that ends it, while its memory is still in that thread's
/// cache, and freed there; what waits in the queue is a few hundred bytes in a shared
/// ``EncodedSpanChunk``, which the export copies into its request in order. Encoded later, on the
/// exporting thread, every span's memory was cold — written by another core, and freed long
/// after — and reading it and freeing it were most of a span's cost end to end.
struct EncodedSpan: Sendable {
    /// The memory holding the bytes (kept alive by every span in it).
    let chunk: EncodedSpanChunk
    /// Where the bytes start in `chunk`.
    let offset: Int
    /// How many bytes the span takes.
    let count: Int

    /// Calls `body` with the span's bytes.
    func withBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        body(UnsafeRawBufferPointer(start: self.chunk.base + self.offset, count: self.count))
    }
}

/// Memory that encoded spans are appended to, one after the other: fixed in place, never reused,
/// freed when the last span in it is gone.
///
/// Only the bytes up to ``used`` are ever read, and each span's bytes are written once, before the
/// span is queued (the queue's lock orders that write before the export's read); spans appended
/// later write bytes no reader looks at yet.
final class EncodedSpanChunk: @unchecked Sendable {
    // @unchecked: `used` changes only under the appender's lock, and bytes are read only after
    // the queue has handed over the span that wrote them (see above).

    /// The size of a chunk: room for a couple of hundred typical spans.
    static let standardCapacity = 64 * 1024

    let base: UnsafeMutableRawPointer
    let capacity: Int
    /// Bytes appended so far.
    fileprivate(set) var used = 0

    init(capacity: Int) {
        self.capacity = capacity
        self.base = .allocate(byteCount: capacity, alignment: 8)
    }

    deinit {
        self.base.deallocate()
    }
}

/// Appends encoded spans to the current chunk, starting a new one when it is full (a span larger
/// than a chunk gets one of its own size). Kept under the exporter's lock, held for one copy.
struct EncodedSpanAppender: ~Copyable {
    private var current: EncodedSpanChunk?

    init() {}

    /// Copies `bytes` into a chunk and returns the span they are.
    mutating func append(_ bytes: UnsafeRawBufferPointer) -> EncodedSpan {
        let chunk: EncodedSpanChunk
        if let current = self.current, current.capacity - current.used >= bytes.count {
            chunk = current
        } else {
            chunk = EncodedSpanChunk(capacity: max(EncodedSpanChunk.standardCapacity, bytes.count))
            self.current = chunk
        }
        let offset = chunk.used
        if let source = bytes.baseAddress {
            (chunk.base + offset).copyMemory(from: source, byteCount: bytes.count)
        }
        chunk.used += bytes.count
        return EncodedSpan(chunk: chunk, offset: offset, count: bytes.count)
    }
}
