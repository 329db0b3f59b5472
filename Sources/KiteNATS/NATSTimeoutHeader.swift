/// `Kite-Timeout: <milliseconds>`: the time the requester still waits, so that the responder's
/// work runs under the same deadline (gRPC's `grpc-timeout`, for NATS).
enum NATSTimeoutHeader {
    static let name = "Kite-Timeout"

    static func value(_ timeout: Duration) -> String {
        let (seconds, attoseconds) = timeout.components
        return String(max(0, seconds * 1000 + attoseconds / 1_000_000_000_000_000))
    }

    static func parse(_ value: String) -> Duration? {
        Int(value).flatMap { $0 >= 0 ? Duration.milliseconds($0) : nil }
    }
}
