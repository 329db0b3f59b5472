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
/// lines gather for a millisecond, swaps the buffer out and writes it in one call. When the output is slower than the
/// logging and the buffer is full, new lines are dropped whole and counted in ``droppedLines`` —
/// logging never waits for a terminal, a pipe or a disk.
public final class LogSink: Sendable {
    /// The most bytes waiting to be written before lines are dropped. Default 1 MiB.
    public let capacity: Int
    private let output: any LogOutput
    // `ConditionLock` (pthread mutex + condition) so the writer can sleep until there is work.
    // The value says what the writer should do: see `State`.
    private let condition: ConditionLock<Int>
    private let pending: PendingBytes
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
        self.pending = PendingBytes(capacity: capacity)
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
        let (fits, wasEmpty) = self.pending.withBuffer { buffer, closing -> (Bool, Bool) in
            guard !closing, lines.count <= self.capacity &- buffer.count else { return (false, false) }
            let wasEmpty = buffer.isEmpty
            buffer.append(contentsOf: lines)
            return (true, wasEmpty)
        }
        if wasEmpty {
            // Only the first line into an empty buffer wakes the writer; later ones join its batch.
            self.condition.unlock(withValue: State.ready)
        } else {
            self.condition.unlock()
        }
        if !fits { self.dropped.wrappingAdd(UInt64(lineCount), ordering: .relaxed) }
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
        let closed = self.pending.withBuffer { _, closing in closing }
        guard !closed else {
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
        while true {
            self.condition.lock()
            let (empty, closing) = self.pending.withBuffer { buffer, closing in (buffer.isEmpty, closing) }
            if empty {
                if closing {
                    self.condition.unlock(withValue: State.idle)
                    return
                }
                // Nothing to write: sleep until the first line of the next burst wakes us.
                self.condition.unlock(withValue: State.idle)
                self.condition.lock(whenValue: State.ready)
            }
            self.pending.withBuffer { buffer, _ in swap(&buffer, &batch) }
            self.condition.unlock(withValue: State.writing)

            batch.withUnsafeBytes { self.output.write($0) }
            self.written.wrappingAdd(UInt64(batch.count), ordering: .relaxed)
            batch.removeAll(keepingCapacity: true)
            // Let the next batch gather: while the writer is not waiting, appending lines costs
            // no wake-up at all.
            usleep(Self.lingerMicroseconds)
        }
    }
}

/// The byte buffer a ``LogSink`` fills; only touched while the sink's condition lock is held.
private final class PendingBytes: @unchecked Sendable {
    // @unchecked: every access happens under `LogSink.condition`.
    private var buffer: [UInt8]
    private var closing = false

    init(capacity: Int) {
        self.buffer = []
        self.buffer.reserveCapacity(capacity)
    }

    func withBuffer<Result>(_ body: (inout [UInt8], Bool) -> Result) -> Result {
        body(&self.buffer, self.closing)
    }

    func close() {
        self.closing = true
    }
}
