/// A batch queue's storage of spans already encoded for OTLP — each span's `ScopeSpans.spans`
/// field, tag and length included — as the batch span processor keeps them for an
/// ``OTLPSpanExporter``.
///
/// A span is encoded on the thread that ends it, while its memory is still in that thread's
/// cache, and freed there; what waits is its bytes, back to back in one block, which an export
/// copies into its request in one piece per batch. Encoded later, on the exporting thread, every
/// span's memory was cold — written by another core, and freed long after — and reading it and
/// freeing it were most of a span's cost end to end.
///
/// Two blocks take turns: one fills while the other's spans are exported, then comes back empty
/// (its memory kept, unless a burst made it larger than ``EncodedSpanBlock/largestKept``).
struct EncodedSpanStorage: BatchQueueStorage {
    private var filling = EncodedSpanBlock()
    /// The block exported last, emptied, to fill next.
    private var spare: EncodedSpanBlock?

    init(configuration: BatchConfiguration) {}

    var count: Int { self.filling.count }

    mutating func add(_ span: consuming UnsafeRawBufferPointer, maxQueueSize: Int) -> (dropped: Bool, released: Void) {
        let full = self.filling.count >= maxQueueSize
        if full { self.filling.dropOldest() }
        self.filling.append(span)
        return (full, ())
    }

    mutating func takeAll() -> EncodedSpanBlock {
        let taken = self.filling
        self.filling = self.spare ?? EncodedSpanBlock()
        self.spare = nil
        return taken
    }

    static func batches(of taken: EncodedSpanBlock, size: Int) -> [EncodedSpanBatch] {
        stride(from: taken.first, to: taken.ends.count, by: size).map { start in
            EncodedSpanBatch(block: taken, spans: start..<min(start + size, taken.ends.count))
        }
    }

    static func count(of batch: EncodedSpanBatch) -> Int { batch.spans.count }

    mutating func exported(_ taken: consuming EncodedSpanBlock) {
        // Reused only when nothing else refers to it (a batch lent to an exporter is gone by now).
        var block = consume taken
        guard isKnownUniquelyReferenced(&block), block.capacity <= EncodedSpanBlock.largestKept else { return }
        block.removeAll()
        self.spare = block
    }
}

/// Encoded spans back to back in one growing piece of memory, oldest first.
///
/// Changed only under the queue's lock while it fills; read by the exporter only after the queue
/// handed it over (under the same lock), and changed again only once the exporter is done with it.
final class EncodedSpanBlock: @unchecked Sendable {
    // @unchecked: see above — a block is filled and read by turns, never at once.

    /// Where a block starts, and the largest one kept for reuse after an export.
    static let initialCapacity = 64 * 1024
    static let largestKept = 4 * 1024 * 1024

    private(set) var base: UnsafeMutableRawPointer
    private(set) var capacity: Int
    /// Bytes written.
    private(set) var used = 0
    /// Where each span ends (a byte offset from `base`).
    private(set) var ends: [Int] = []
    /// The index of the oldest span kept: those before it were dropped.
    private(set) var first = 0

    init() {
        self.capacity = Self.initialCapacity
        self.base = .allocate(byteCount: self.capacity, alignment: 8)
    }

    deinit {
        self.base.deallocate()
    }

    /// Spans kept.
    var count: Int { self.ends.count - self.first }

    /// Where span `index` starts.
    func start(of index: Int) -> Int {
        index == 0 ? 0 : self.ends[index - 1]
    }

    /// Appends one span's bytes.
    func append(_ bytes: UnsafeRawBufferPointer) {
        if bytes.count > self.capacity - self.used { self.grow(toHold: bytes.count) }
        if let source = bytes.baseAddress {
            (self.base + self.used).copyMemory(from: source, byteCount: bytes.count)
        }
        self.used += bytes.count
        self.ends.append(self.used)
    }

    /// Drops the oldest span. Its bytes stay until dropped spans are half the block, when the
    /// kept ones move to the front (so a queue that keeps dropping does not keep growing).
    func dropOldest() {
        self.first += 1
        guard self.first >= 64, self.first * 2 >= self.ends.count else { return }
        let dropped = self.ends[self.first - 1]
        (self.base).copyMemory(from: self.base + dropped, byteCount: self.used - dropped)
        self.used -= dropped
        self.ends = self.ends[self.first...].map { $0 - dropped }
        self.first = 0
    }

    /// Forgets every span, keeping the memory.
    func removeAll() {
        self.used = 0
        self.ends.removeAll(keepingCapacity: true)
        self.first = 0
    }

    private func grow(toHold extra: Int) {
        var capacity = self.capacity * 2
        while capacity - self.used < extra { capacity *= 2 }
        let base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
        base.copyMemory(from: self.base, byteCount: self.used)
        self.base.deallocate()
        self.base = base
        self.capacity = capacity
    }
}

/// Consecutive spans of an ``EncodedSpanBlock``: one export's worth.
struct EncodedSpanBatch: Sendable {
    let block: EncodedSpanBlock
    /// The spans' indices in the block.
    let spans: Range<Int>

    /// Calls `body` with the spans' bytes, back to back.
    func withBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        let start = self.block.start(of: self.spans.lowerBound)
        let end = self.spans.isEmpty ? start : self.block.ends[self.spans.upperBound - 1]
        return body(UnsafeRawBufferPointer(start: self.block.base + start, count: end - start))
    }
}
