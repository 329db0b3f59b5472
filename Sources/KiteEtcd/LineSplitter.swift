import Foundation
import NIOCore

/// Splits a stream of bytes into newline-ended lines (a watch's JSON messages), refusing a line
/// longer than its limit.
struct LineSplitter {
    private var buffer = Data()
    private let maxLineBytes: Int

    init(maxLineBytes: Int) {
        self.maxLineBytes = maxLineBytes
    }

    mutating func append(_ chunk: ByteBuffer) {
        self.buffer.append(contentsOf: chunk.readableBytesView)
    }

    /// The next complete line without its newline (blank lines skipped), or `nil` until more bytes come.
    mutating func next() throws -> Data? {
        while let newline = self.buffer.firstIndex(of: UInt8(ascii: "\n")) {
            let line = self.buffer[self.buffer.startIndex..<newline]
            self.buffer.removeSubrange(self.buffer.startIndex...newline)
            if !line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }) { return Data(line) }
        }
        if self.buffer.count > self.maxLineBytes {
            throw EtcdError.malformed("a watch message longer than \(self.maxLineBytes) bytes")
        }
        return nil
    }
}
