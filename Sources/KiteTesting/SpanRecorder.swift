import KiteTelemetry
import Synchronization

/// A span processor that keeps every span as it ends, in order: ``TestTelemetry``'s spans.
final class SpanRecorder: SpanProcessor {
    private let records = Mutex<[SpanRecord]>([])

    func onEnd(_ span: consuming SpanRecord) {
        let record = span
        self.records.withLock { $0.append(record) }
    }

    func forceFlush() async {}

    var all: [SpanRecord] { self.records.withLock { $0 } }

    func reset() { self.records.withLock { $0.removeAll() } }
}
