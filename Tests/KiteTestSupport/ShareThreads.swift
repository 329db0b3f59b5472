/// Lets other tests run, once every `period` rounds of a long loop that never suspends.
///
/// Swift Testing runs tests on the cooperative pool, one thread per core. A fuzz loop of 20,000
/// rounds holds its thread for seconds; two of them at once on a two-core machine stalled every
/// other test of the run (for 20 s once, under CI — a test that waited for a timer saw nothing
/// happen in that time).
public func shareThreads(round: Int, every period: Int = 500) async {
    if round % period == period - 1 { await Task.yield() }
}
