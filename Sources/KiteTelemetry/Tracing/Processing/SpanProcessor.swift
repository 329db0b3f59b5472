/// Receives spans as they end and hands them on to an exporter.
public protocol SpanProcessor: Sendable {
    /// Called once per sampled span when it ends, on the thread that ended it: must be quick.
    /// The record is handed over (`consuming`), so a processor can keep it without copying.
    func onEnd(_ span: consuming SpanRecord)

    /// Exports everything received so far.
    func forceFlush() async
}
