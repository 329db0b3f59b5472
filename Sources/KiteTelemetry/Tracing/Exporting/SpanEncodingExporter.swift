/// A span exporter that encodes each span when it ends — on the thread that ends it, while the
/// span's memory is warm in that thread's cache — and exports batches of those encodings.
///
/// ``BatchSpanProcessor`` queues ``EncodedSpan``s instead of records for such an exporter
/// (``OTLPSpanExporter`` is one): the span itself is freed as soon as it is encoded, by the
/// thread that allocated it.
protocol SpanEncodingExporter: SpanExporter {
    /// The encoding of a span that has just ended.
    func encodeEnded(_ span: SpanRecord) -> EncodedSpan

    /// Exports a batch of spans encoded by ``encodeEnded(_:)``, in order.
    func export(encoded batch: [EncodedSpan]) async throws
}
