/// A span exporter that encodes each span when it ends — on the thread that ends it, while the
/// span's memory is warm in that thread's cache — and exports batches of those encodings.
///
/// ``BatchSpanProcessor`` queues the encodings instead of records for such an exporter
/// (``OTLPSpanExporter`` is one, see ``EncodedSpanStorage``): the span itself is freed as soon as
/// it is encoded, by the thread that allocated it.
protocol SpanEncodingExporter: SpanExporter {
    /// Encodes a span that has just ended and calls `body` with its bytes.
    func encodeEnded<Result>(_ span: SpanRecord, _ body: (UnsafeRawBufferPointer) -> Result) -> Result

    /// Exports a batch of spans encoded by ``encodeEnded(_:_:)``, in order.
    func export(encoded batch: EncodedSpanBatch) async throws
}
