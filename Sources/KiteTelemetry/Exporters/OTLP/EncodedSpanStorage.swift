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
    /// A span that has just ended.
    enum Ended {
        /// The span, with the exporter that encodes it (under the queue's lock).
        case record(SpanRecord, any SpanEncodingExporter)
        /// The span encoded already: one whose encoding runs the caller's code, which must not
        /// run under the queue's lock (a `description` that ended a span would wait for it forever).
        case encoded([UInt8])

        /// `span`, encoded now if its encoding runs the caller's code.
        init(_ span: SpanRecord, exporter: any SpanEncodingExporter) {
            guard span.hasCallerDescribedValues else {
                self = .record(span, exporter)
                return
            }
            var writer = ProtobufWriter()
            exporter.encodeEnded(span, into: &writer)
            self = .encoded(writer.bytes)
        }
    }

    private var filling = EncodedSpanBlock()
    /// The block exported last, emptied, to fill next.
    private var spare: EncodedSpanBlock?

    init(configuration: BatchConfiguration) {}

    var count: Int { self.filling.count }

    /// Encodes the span straight into the block (under the queue's lock: one writer, no copy).
    mutating func add(_ span: consuming Ended, maxQueueSize: Int) -> (dropped: Bool, released: Void) {
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

    mutating func exported(_ taken: inout EncodedSpanBlock?) {
        // Reused only when nothing else refers to it (a batch lent to an exporter is gone by now).
        guard var block = taken.take() else { return }
        guard isKnownUniquelyReferenced(&block), block.capacity <= EncodedSpanBlock.largestKept else {
            taken = block
            return
        }
        block.removeAll()
        self.spare = block
    }
}

/// Encoded spans back to back in one growing piece of memory, oldest first.
///
/// Changed only under the queue's lock while it fills; read by the exporter only after the queue
/// handed it over (under the same lock), and changed again only once the exporter is done with it.
final class EncodedSpanBlock: @unchecked Sendable {
    // @unchecked, and unchecked exclusivity: see above — a block is filled and read by turns,
    // never at once.

    /// Where a block starts, and the largest one kept for reuse after an export.
    static let initialCapacity = 64 * 1024
    static let largestKept = 4 * 1024 * 1024

    @exclusivity(unchecked) private var writer = ProtobufWriter(capacity: EncodedSpanBlock.initialCapacity)
    /// Where each span ends (a byte offset from the start).
    @exclusivity(unchecked) private(set) var ends: [Int] = []
    /// The index of the oldest span kept: those before it were dropped.
    @exclusivity(unchecked) private(set) var first = 0

    init() {
        self.ends.reserveCapacity(512)
    }

    /// Spans kept.
    var count: Int { self.ends.count - self.first }
    /// Bytes written.
    var used: Int { self.writer.count }
    /// The memory reserved.
    var capacity: Int { self.writer.reservedCapacity }

    /// Where span `index` starts.
    func start(of index: Int) -> Int {
        index == 0 ? 0 : self.ends[index - 1]
    }

    /// Encodes one span after the others (or copies its encoding).
    func append(_ span: EncodedSpanStorage.Ended) {
        switch span {
        case .record(let record, let exporter): exporter.encodeEnded(record, into: &self.writer)
        case .encoded(let bytes): bytes.withUnsafeBytes { self.writer.append($0) }
        }
        self.ends.append(self.writer.count)
    }

    /// Drops the oldest span. Its bytes stay until dropped spans are half the block, when the
    /// kept ones move to the front (so a queue that keeps dropping does not keep growing).
    func dropOldest() {
        self.first += 1
        guard self.first >= 64, self.first * 2 >= self.ends.count else { return }
        let dropped = self.ends[self.first - 1]
        self.writer.removeFirst(dropped)
        self.ends = self.ends[self.first...].map { $0 - dropped }
        self.first = 0
    }

    /// Forgets every span, keeping the memory.
    func removeAll() {
        self.writer.reset()
        self.ends.removeAll(keepingCapacity: true)
        self.first = 0
    }

    /// Calls `body` with the bytes from `start` to `end`.
    func withBytes<Result>(from start: Int, to end: Int, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        self.writer.withBytes { body(UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
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
        return self.block.withBytes(from: start, to: end, body)
    }
}
