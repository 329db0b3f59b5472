/// A batch queue's storage that keeps the records themselves (spans for exporters other than
/// OTLP, log records).
///
/// A plain array while it has room; once full, a ring whose oldest slot the next record
/// overwrites. Taking everything exchanges the array for an empty one; when it holds one batch or
/// less — the usual case — the array itself is the batch.
///
/// Exported records are released by the threads that add records, two per record they add, not by
/// the exporting task: the memory of a span is then freed by a thread that allocates spans, from
/// and into its allocator's per-thread cache. Freed on the exporting thread, every record took the
/// allocator's lock against the request threads' allocations: a sampled span with five attributes
/// took twice as long (1.05 against 0.51 µs in the benchmark, two cores). What the adding threads
/// have not released by the next export, that export releases. So at most `maxQueueSize` records
/// wait, plus those taken for the export under way, plus those of the last export until they are
/// released.
struct RecordQueueStorage<Record: Sendable>: BatchQueueStorage {
    /// The records taken for export, and where the oldest is.
    struct Taken: Sendable {
        var records: [Record]
        var oldest: Int
    }

    /// Two exported records and a dropped one, to be released after the queue's lock.
    typealias Released = (Record?, Record?, dropped: Record?)

    private var queue: [Record]
    /// Where the oldest record is once the queue is full (and the next one goes).
    private var oldest = 0
    /// Exported records, released by the threads that add records (see above).
    private var spent: [Record] = []
    private let batchSize: Int

    init(configuration: BatchConfiguration) {
        self.batchSize = configuration.maxExportBatchSize
        self.queue = Self.emptyQueue(batchSize: self.batchSize)
    }

    var count: Int { self.queue.count }

    /// Adds a record; hands back two exported records (and a dropped one) to release after the lock.
    mutating func add(_ record: consuming Record, maxQueueSize: Int) -> (dropped: Bool, released: Released) {
        let spent = (self.spent.popLast(), self.spent.popLast())
        guard self.queue.count < maxQueueSize else {
            // Full: the record takes the oldest one's slot; the oldest leaves.
            var incoming = record
            swap(&self.queue[self.oldest], &incoming)
            self.oldest = (self.oldest + 1) % self.queue.count
            return (true, (spent.0, spent.1, dropped: incoming))
        }
        self.queue.append(record)
        return (false, (spent.0, spent.1, dropped: nil))
    }

    mutating func takeAll() -> Taken {
        var taken = Self.emptyQueue(batchSize: self.batchSize)
        swap(&taken, &self.queue)
        defer { self.oldest = 0 }
        return Taken(records: taken, oldest: self.oldest)
    }

    static func batches(of taken: Taken, size: Int) -> [[Record]] {
        var records = taken.records
        if taken.oldest != 0 {
            // The queue wrapped: put it back in order (only after records were dropped).
            records = Array(records[taken.oldest...] + records[..<taken.oldest])
        }
        if records.count <= size { return [records] }
        return stride(from: 0, to: records.count, by: size).map { start in
            Array(records[start..<min(start + size, records.count)])
        }
    }

    static func count(of batch: [Record]) -> Int { batch.count }

    /// Keeps the exported records for the adding threads to release; leaves in `taken` the ones
    /// the last export left, which they did not get to.
    mutating func exported(_ taken: inout Taken?) {
        guard var leftover = taken.take() else { return }
        swap(&self.spent, &leftover.records)
        taken = leftover
    }

    /// An empty queue with room for one batch of at most 512 records: it grows as records
    /// arrive (up to `maxQueueSize`), so a large configured maximum costs nothing until it fills.
    private static func emptyQueue(batchSize: Int) -> [Record] {
        var queue: [Record] = []
        queue.reserveCapacity(min(batchSize, 512))
        return queue
    }
}
