#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Where a ``LogSink`` finally writes its bytes. Called on the sink's writer thread only, never on
/// the thread that logged.
public protocol LogOutput: Sendable {
    /// Writes a chunk of whole lines.
    func write(_ bytes: UnsafeRawBufferPointer)
}

/// Writes to a file descriptor (standard output by default), retrying short writes and `EINTR`.
public struct FileDescriptorLogOutput: LogOutput {
    /// The descriptor written to.
    public let fileDescriptor: Int32

    /// Standard output.
    public static let standardOutput = FileDescriptorLogOutput(fileDescriptor: 1)
    /// Standard error.
    public static let standardError = FileDescriptorLogOutput(fileDescriptor: 2)

    /// Creates an output for `fileDescriptor`; the caller keeps ownership of it.
    public init(fileDescriptor: Int32) {
        self.fileDescriptor = fileDescriptor
    }

    public func write(_ bytes: UnsafeRawBufferPointer) {
        guard var base = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            #if canImport(Glibc) || canImport(Musl)
            let written = Glibc.write(self.fileDescriptor, base, remaining)
            #else
            let written = Darwin.write(self.fileDescriptor, base, remaining)
            #endif
            if written < 0 {
                if errno == EINTR { continue }
                return  // nowhere left to report to; the sink counts what it could not hand over
            }
            remaining -= written
            base += written
        }
    }
}

/// Throws every byte away (benchmarks, and services that only want metrics and traces).
public struct DiscardingLogOutput: LogOutput {
    /// Creates a discarding output.
    public init() {}
    public func write(_ bytes: UnsafeRawBufferPointer) {}
}

/// Keeps every line in memory, for tests and examples.
public final class InMemoryLogOutput: LogOutput {
    private let storage = Mutex<[UInt8]>([])

    /// Creates an empty output.
    public init() {}

    public func write(_ bytes: UnsafeRawBufferPointer) {
        self.storage.withLock { $0.append(contentsOf: bytes) }
    }

    /// Every line written so far, without their newlines.
    public var lines: [String] {
        let bytes = self.storage.withLock { $0 }
        return bytes.split(separator: UInt8(ascii: "\n")).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Forgets what was written.
    public func reset() {
        self.storage.withLock { $0.removeAll() }
    }
}
