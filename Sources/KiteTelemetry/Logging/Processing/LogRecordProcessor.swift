/// Receives each log event as a ``LogRecord`` as it is logged (on the logging thread: must be
/// quick), and hands it on: ``BatchLogRecordProcessor`` to an exporter, a test's processor to
/// memory.
public protocol LogRecordProcessor: AnyObject, Sendable {
    /// Takes one record.
    func add(_ record: LogRecord)

    /// Exports everything received so far.
    func forceFlush() async
}
