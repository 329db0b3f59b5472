/// Somewhere bytes are appended to: a `[UInt8]`, or the ``LineBuffer`` a log line is encoded in.
///
/// The encoders that several writers share (hex IDs, timestamps) are generic over it, so that each
/// writes straight into whichever buffer its caller holds.
protocol ByteOutput: ~Copyable {
    /// Appends one byte.
    mutating func append(_ byte: UInt8)
    /// Appends `bytes`.
    mutating func append(bytes: UnsafeRawBufferPointer)
    /// Appends exactly `count` bytes, which `body` writes into the memory it is given (all of it).
    mutating func append(count: Int, _ body: (UnsafeMutableRawBufferPointer) -> Void)
}

extension ByteOutput where Self: ~Copyable {
    /// Appends the UTF-8 of a string literal.
    @inline(__always)
    mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { self.append(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// Appends the UTF-8 of `text`.
    @inline(__always)
    mutating func append(utf8 text: String) {
        var text = text
        text.withUTF8 { self.append(bytes: UnsafeRawBufferPointer($0)) }
    }
}

extension Array: ByteOutput where Element == UInt8 {
    @inline(__always)
    mutating func append(bytes: UnsafeRawBufferPointer) {
        self.append(contentsOf: bytes)
    }

    mutating func append(count: Int, _ body: (UnsafeMutableRawBufferPointer) -> Void) {
        self.append(contentsOf: repeatElement(0, count: count))
        self.withUnsafeMutableBytes { body(UnsafeMutableRawBufferPointer(rebasing: $0[($0.count - count)...])) }
    }
}
