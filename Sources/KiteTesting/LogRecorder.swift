import KiteTelemetry
import Synchronization

/// A log record processor that keeps every record as it is logged: ``TestTelemetry``'s logs.
final class LogRecorder: LogRecordProcessor {
    private let records = Mutex<[LogRecord]>([])

    func add(_ record: LogRecord) {
        self.records.withLock { $0.append(record) }
    }

    func forceFlush() async {}

    var all: [LogRecord] { self.records.withLock { $0 } }

    func reset() { self.records.withLock { $0.removeAll() } }
}
