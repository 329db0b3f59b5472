/// Keeps a registration bound to a time to live alive — the loop a ``Registrar``'s
/// ``Registrar/keepAlive()`` runs for a lease (etcd) or a TTL check (Consul).
///
/// Calls `renew` every third of `ttl` until the task is cancelled. Returns when `renew` returns
/// `false` (the backend no longer has the registration). A failed renewal is tried again every
/// tenth of `ttl`; when none has succeeded for a whole `ttl` the registration is as good as lost,
/// and the last error is thrown.
public func renewRegistration(ttl: Duration, _ renew: () async throws -> Bool) async throws {
    var lastRenewal = ContinuousClock.now
    var failing = false
    while true {
        try await Task.sleep(for: failing ? ttl / 10 : ttl / 3)
        do {
            guard try await renew() else { return }
            lastRenewal = .now
            failing = false
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            failing = true
            if lastRenewal.duration(to: .now) >= ttl { throw error }
        }
    }
}
