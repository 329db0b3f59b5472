import Synchronization

/// Keeps exported spans in memory, for tests and examples.
public final class InMemorySpanExporter: SpanExporter {
    private let spans = Mutex<[SpanRecord]>([])

    /// Creates an empty exporter.
    public init() {}

    public func export(_ batch: [SpanRecord]) async throws {
        self.spans.withLock { $0.append(contentsOf: batch) }
    }

    /// Every span exported so far, in export order.
    public var exportedSpans: [SpanRecord] {
        self.spans.withLock { $0 }
    }

    /// Forgets the spans exported so far.
    public func reset() {
        self.spans.withLock { $0.removeAll() }
    }
}
