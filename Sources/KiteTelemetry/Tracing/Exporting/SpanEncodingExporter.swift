/// A span exporter that encodes each span when it ends — on the thread that ends it, while the
/// span's memory is warm in that thread's cache — and exports batches of those encodings.
///
/// ``BatchSpanProcessor`` queues the encodings instead of records for such an exporter
/// (``OTLPSpanExporter`` is one, see ``EncodedSpanStorage``): the span itself is freed as soon as
/// it is encoded, by the thread that allocated it.
protocol SpanEncodingExporter: SpanExporter, AnyObject {
    /// Appends the encoding of a span that has just ended to `writer`.
    func encodeEnded(_ span: SpanRecord, into writer: inout ProtobufWriter)

    /// Exports a batch of spans encoded by ``encodeEnded(_:into:)``, in order, ending (failed,
    /// if it must) within `timeout`: the processor calls it without a timer of its own.
    func export(encoded batch: EncodedSpanBatch, within timeout: Duration) async throws
}
