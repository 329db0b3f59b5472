#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOConcurrencyHelpers
import NIOPosix
import Synchronization

/// A bounded, non-blocking buffer between the threads that log and a ``LogOutput``.
///
/// A log call encodes its line on its own stack, copies it into the pending buffer under a short
/// lock and returns; a dedicated writer thread, woken by the first line into an empty buffer, lets
/// lines gather for a millisecond, swaps the buffer out and writes it in one call. Lines of Kite's
/// own instrumentation may instead be handed over as their values (``DeferredLogLine``, from a
/// ``LogLineTemplate``): the writer encodes each in its place among the others. When the output
/// is slower than the logging and the buffer is full, new lines are dropped whole and counted in
/// ``droppedLines`` — logging never waits for a terminal, a pipe or a disk.
public final class LogSink: Sendable {
    /// The most bytes waiting to be written before lines are dropped. Default 1 MiB.
    public let capacity: Int
    private let output: any LogOutput
    // `ConditionLock` (pthread mutex + condition) so the writer can sleep until there is work.
    // The value says what the writer should do: see `State`.
    private let condition: ConditionLock<Int>
    private let pending: PendingLines
    private let dropped = Atomic<UInt64>(0)
    private let written = Atomic<UInt64>(0)
    private let threads: NIOThreadPool

    /// How long the writer lets lines gather after being woken, in microseconds.
    static let lingerMicroseconds: UInt32 = 1000

    private enum State {
        static let idle = 0  // nothing pending, writer not writing
        static let ready = 1  // bytes pending, or closing
        static let writing = 2  // writer holds a batch, nothing pending
    }

    /// Creates a sink and starts its writer thread.
    public init(output: any LogOutput, capacity: Int = 1 << 20) {
        self.output = output
        self.capacity = capacity
        self.condition = ConditionLock(value: State.idle)
        self.pending = PendingLines(capacity: capacity)
        self.threads = NIOThreadPool(numberOfThreads: 1)
        self.threads.start()
        self.threads.submit { [self] _ in self.writeLoop() }
    }

    /// Appends whole lines (each with its newline), copied into the pending buffer under a short
    /// lock. If they do not fit, they are dropped and counted in ``droppedLines``.
    /// - Parameters:
    ///   - lines: One line, or several (an exporter's batch), ending in a newline.
    ///   - lineCount: How many lines `lines` holds, for the count of dropped lines.
    public func append(_ lines: UnsafeRawBufferPointer, lineCount: Int = 1) {
        self.condition.lock()
        let (fits, wasEmpty) = self.pending.add(lines, capacity: self.capacity)
        self.unlock(waking: wasEmpty)
        if !fits { self.dropped.wrappingAdd(UInt64(lineCount), ordering: .relaxed) }
    }

    /// Appends one line of Kite's own instrumentation as its values, for the writer thread to
    /// encode in its place among the lines (see ``DeferredLogLine``). It counts as
    /// `maximumBytes` against the capacity while it waits; if that does not fit, it is dropped
    /// and counted in ``droppedLines``.
    func append(_ line: DeferredLogLine, maximumBytes: Int) {
        self.condition.lock()
        let (fits, wasEmpty) = self.pending.add(line, maximumBytes: maximumBytes, capacity: self.capacity)
        self.unlock(waking: wasEmpty)
        if !fits { self.dropped.wrappingAdd(1, ordering: .relaxed) }
    }

    /// Unlocks after an append; only the first line into an empty buffer wakes the writer, later
    /// ones join its batch.
    @inline(__always)
    private func unlock(waking: Bool) {
        if waking {
            self.condition.unlock(withValue: State.ready)
        } else {
            self.condition.unlock()
        }
    }

    /// Keeps the fixed fields of a ``LogLineTemplate``'s deferred lines for the writer; the slot
    /// that lines name them by.
    func register(_ head: LogLineHead) -> Int {
        self.condition.lock()
        defer { self.condition.unlock() }
        return self.pending.register(head)
    }

    /// Lets go of a slot once the lines appended before this call are written (its template is
    /// gone, so no later line names it); the slot may then be given to another template.
    func unregister(_ head: Int) {
        self.condition.lock()
        self.pending.retire(head)
        self.condition.unlock()
    }

    /// Lines dropped because the buffer was full.
    public var droppedLines: UInt64 { self.dropped.load(ordering: .relaxed) }

    /// Bytes handed to the output so far.
    public var writtenBytes: UInt64 { self.written.load(ordering: .relaxed) }

    /// Blocks until everything appended before the call has been written.
    public func flush() {
        self.condition.lock(whenValue: State.idle)
        self.condition.unlock(withValue: State.idle)
    }

    /// Writes what is pending and stops the writer thread. Later lines are dropped and counted.
    /// Calling it again does nothing.
    public func shutdown() {
        guard self.close() else { return }
        try? self.threads.syncShutdownGracefully()
    }

    /// ``shutdown()``, waiting for the writer thread to end without blocking the caller's.
    func shutdownGracefully() async {
        guard self.close() else { return }
        try? await self.threads.shutdownGracefully()
    }

    /// Writes what is pending and tells the writer to end; whether this call closed the sink.
    private func close() -> Bool {
        self.flush()
        self.condition.lock()
        guard !self.pending.isClosing else {
            self.condition.unlock()
            return false
        }
        self.pending.close()
        self.condition.unlock(withValue: State.ready)
        return true
    }

    private func writeLoop() {
        var batch = [UInt8]()
        batch.reserveCapacity(self.capacity)
        var lines = [DeferredLogLine]()
        var retired = [Int]()
        // Where a batch with deferred lines is encoded: it grows onto the heap for a larger batch.
        let scratch = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 1 << 16)
        defer { scratch.deallocate() }
        while true {
            self.condition.lock()
            // The slots retired with the last batch: every line that named them is written.
            self.pending.free(retired)
            retired.removeAll(keepingCapacity: true)
            if self.pending.isEmpty {
                if self.pending.isClosing {
                    self.condition.unlock(withValue: State.idle)
                    return
                }
                // Nothing to write: sleep until the first line of the next burst wakes us.
                self.condition.unlock(withValue: State.idle)
                self.condition.lock(whenValue: State.ready)
            }
            let heads = self.pending.take(text: &batch, lines: &lines, retired: &retired)
            self.condition.unlock(withValue: State.writing)

            if lines.isEmpty {
                batch.withUnsafeBytes { self.write($0) }
            } else {
                var text = LineBuffer(scratch: scratch)
                let unknown = batch.withUnsafeBytes { Self.encode($0, lines, heads, into: &text) }
                if unknown > 0 { self.dropped.wrappingAdd(UInt64(unknown), ordering: .relaxed) }
                text.withBytes { self.write($0) }
                lines.removeAll(keepingCapacity: true)
            }
            batch.removeAll(keepingCapacity: true)
            // Let the next batch gather: while the writer is not waiting, appending lines costs
            // no wake-up at all.
            usleep(Self.lingerMicroseconds)
        }
    }

    private func write(_ bytes: UnsafeRawBufferPointer) {
        self.output.write(bytes)
        self.written.wrappingAdd(UInt64(bytes.count), ordering: .relaxed)
    }

    /// The batch's text with its deferred lines encoded in their places; how many lines named
    /// a slot with no head (none should: a slot is freed only after its lines are written).
    private static func encode(
        _ text: UnsafeRawBufferPointer,
        _ lines: [DeferredLogLine],
        _ heads: [LogLineHead?],
        into output: inout LineBuffer
    ) -> Int {
        var unknown = 0
        var start = 0
        for line in lines {
            output.append(bytes: UnsafeRawBufferPointer(rebasing: text[start..<line.offset]))
            start = line.offset
            if line.head < heads.count, let head = heads[line.head] {
                line.encode(head: head, into: &output)
            } else {
                unknown &+= 1
            }
        }
        output.append(bytes: UnsafeRawBufferPointer(rebasing: text[start...]))
        return unknown
    }
}

/// What a ``LogSink`` holds for its writer — the pending text and deferred lines — and the fixed
/// fields of the templates whose lines it defers; only touched while the sink's condition lock
/// is held.
private final class PendingLines: @unchecked Sendable {
    // @unchecked: every access happens under `LogSink.condition`.
    private var text: [UInt8]
    private var lines: [DeferredLogLine] = []
    /// What the deferred lines may encode to, counted against the capacity.
    private var lineBytes = 0
    private(set) var isClosing = false
    private var heads: [LogLineHead?] = []
    private var freeHeads: [Int] = []
    /// Slots whose templates are gone, to be freed once the writer has the lines before them.
    private var retiring: [Int] = []

    init(capacity: Int) {
        self.text = []
        self.text.reserveCapacity(capacity)
    }

    var isEmpty: Bool { self.text.isEmpty && self.lines.isEmpty }

    /// Adds text if it fits: whether it did, and whether nothing was pending before.
    func add(_ bytes: UnsafeRawBufferPointer, capacity: Int) -> (fits: Bool, wasEmpty: Bool) {
        guard !self.isClosing, bytes.count <= capacity &- self.text.count &- self.lineBytes else { return (false, false) }
        let wasEmpty = self.isEmpty
        self.text.append(contentsOf: bytes)
        return (true, wasEmpty)
    }

    /// Adds a deferred line, placed after the text pending now, if `maximumBytes` fit.
    func add(_ line: DeferredLogLine, maximumBytes: Int, capacity: Int) -> (fits: Bool, wasEmpty: Bool) {
        guard !self.isClosing, maximumBytes <= capacity &- self.text.count &- self.lineBytes else { return (false, false) }
        let wasEmpty = self.isEmpty
        var line = line
        line.offset = self.text.count
        self.lines.append(line)
        self.lineBytes &+= maximumBytes
        return (true, wasEmpty)
    }

    func register(_ head: LogLineHead) -> Int {
        if let slot = self.freeHeads.popLast() {
            self.heads[slot] = head
            return slot
        }
        self.heads.append(head)
        return self.heads.count &- 1
    }

    func retire(_ slot: Int) {
        self.retiring.append(slot)
    }

    /// Frees slots retired with a batch the writer has written.
    func free(_ slots: [Int]) {
        for slot in slots {
            self.heads[slot] = nil
            self.freeHeads.append(slot)
        }
    }

    /// Swaps what is pending for the writer's emptied buffers; the heads the lines name, and
    /// the slots retired so far (to free once these lines are written).
    func take(text: inout [UInt8], lines: inout [DeferredLogLine], retired: inout [Int]) -> [LogLineHead?] {
        swap(&self.text, &text)
        swap(&self.lines, &lines)
        swap(&self.retiring, &retired)
        self.lineBytes = 0
        return self.heads
    }

    func close() {
        self.isClosing = true
    }
}
