/// Receives spans as they end and hands them on to an exporter.
///
/// A processor is an object (it holds a queue, or the exporter's connection): a span keeps a
/// reference to it, which costs one retain to copy.
public protocol SpanProcessor: AnyObject, Sendable {
    /// Called once per sampled span when it ends, on the thread that ended it: must be quick.
    /// The record is handed over (`consuming`), so a processor can keep it without copying.
    func onEnd(_ span: consuming SpanRecord)

    /// Exports everything received so far.
    func forceFlush() async
}
