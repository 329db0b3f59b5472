import Instrumentation

/// Moves trace context (and baggage) between a `ServiceContext` and the headers of a request.
///
/// Kite provides ``W3CTraceContextPropagator`` (`tracecontext`), ``W3CBaggagePropagator``
/// (`baggage`) and ``B3Propagator`` (`b3`, `b3multi`). Extraction never throws: a malformed
/// header is ignored, so the request starts a new root trace.
public protocol TracePropagator: Sendable {
    /// Reads headers from `carrier` into `context`. Implementations leave a span context already
    /// present (from a propagator listed earlier) alone.
    func extract<Carrier, Extract: Extractor>(
        _ carrier: Carrier,
        into context: inout ServiceContext,
        using extractor: Extract
    ) where Extract.Carrier == Carrier

    /// Writes headers for `context` into `carrier`.
    func inject<Carrier, Inject: Injector>(
        _ context: ServiceContext,
        into carrier: inout Carrier,
        using injector: Inject
    ) where Inject.Carrier == Carrier
}
