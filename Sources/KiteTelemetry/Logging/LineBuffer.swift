/// The bytes of one line while it is encoded: written into scratch memory the caller provides
/// (on its stack, see ``withLineBuffer(_:)``), and moved to the heap only when the line outgrows it.
///
/// Appending is a bounds check and a copy — no reference counting, no uniqueness check — which is
/// what lets a log line be encoded without holding any lock, then handed to the sink in one copy.
struct LineBuffer: ~Copyable, ByteOutput {
    private var start: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private var ownsStart = false
    /// Bytes written so far.
    private(set) var count = 0

    /// A buffer writing into `scratch`, which must outlive it.
    init(scratch: UnsafeMutableBufferPointer<UInt8>) {
        // A zero-length scratch still has a base address to grow from.
        if let base = scratch.baseAddress, scratch.count > 0 {
            self.start = base
            self.capacity = scratch.count
        } else {
            self.start = .allocate(capacity: 256)
            self.capacity = 256
            self.ownsStart = true
        }
    }

    deinit {
        if self.ownsStart { self.start.deallocate() }
    }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        if self.count == self.capacity { self.grow(toHold: 1) }
        self.start[self.count] = byte
        self.count &+= 1
    }

    @inline(__always)
    mutating func append(bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress else { return }
        if bytes.count > self.capacity &- self.count { self.grow(toHold: bytes.count) }
        UnsafeMutableRawPointer(self.start + self.count).copyMemory(from: source, byteCount: bytes.count)
        self.count &+= bytes.count
    }

    @inline(__always)
    mutating func append(count: Int, _ body: (UnsafeMutableRawBufferPointer) -> Void) {
        if count > self.capacity &- self.count { self.grow(toHold: count) }
        body(UnsafeMutableRawBufferPointer(start: self.start + self.count, count: count))
        self.count &+= count
    }

    /// Forgets what was written, keeping the memory.
    mutating func removeAll() {
        self.count = 0
    }

    /// The bytes written, valid until the buffer changes.
    func withBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try body(UnsafeRawBufferPointer(start: self.start, count: self.count))
    }

    @inline(never)
    private mutating func grow(toHold extra: Int) {
        let capacity = max(self.capacity * 2, self.count + extra)
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        bigger.update(from: self.start, count: self.count)
        if self.ownsStart { self.start.deallocate() }
        self.start = bigger
        self.capacity = capacity
        self.ownsStart = true
    }
}

/// Runs `body` with an empty ``LineBuffer`` over 1 KiB of stack: most lines never touch the heap.
@inline(__always)
func withLineBuffer<Result>(_ body: (inout LineBuffer) throws -> Result) rethrows -> Result {
    try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1024) { scratch in
        var buffer = LineBuffer(scratch: scratch)
        return try body(&buffer)
    }
}
