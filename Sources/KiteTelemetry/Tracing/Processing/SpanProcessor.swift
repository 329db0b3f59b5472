/// Receives spans as they end and hands them on to an exporter.
public protocol SpanProcessor: Sendable {
    /// Called once per sampled span when it ends, on the thread that ended it: must be quick.
    func onEnd(_ span: SpanRecord)

    /// Exports everything received so far.
    func forceFlush() async
}
