import GRPCCore
import Kite
import KiteTelemetry

/// The names and the pre-resolved `OK` duration series of one gRPC method, resolved once when a
/// route or a client endpoint is made — for the server's and the client's instrumentation alike.
struct GRPCMethodInstruments: Sendable {
    let descriptor: MethodDescriptor
    let service: String
    let name: String
    let spanName: String
    private let okDurations: Histogram
    private let durations: MetricFamily<Histogram>

    /// Resolves `descriptor` in `durations` (labels `rpc_system`, `rpc_service`, `rpc_method`,
    /// `rpc_grpc_status_code`).
    init(_ descriptor: MethodDescriptor, durations: MetricFamily<Histogram>) {
        let service = descriptor.service.fullyQualifiedService
        self.descriptor = descriptor
        self.service = service
        self.name = descriptor.method
        self.spanName = "\(service)/\(descriptor.method)"
        self.okDurations = durations.labels(["grpc", service, descriptor.method, GRPCStatusLabel.label(.ok)])
        self.durations = durations
    }

    /// The duration series of a call that ended with `code`.
    func durations(for code: ErrorCode) -> Histogram {
        code == .ok ? self.okDurations : self.durations.labels(["grpc", self.service, self.name, GRPCStatusLabel.label(code)])
    }
}

/// gRPC status codes as label values.
enum GRPCStatusLabel {
    private static let labels = (0...16).map(String.init)

    static func label(_ code: ErrorCode) -> String {
        Self.labels[code.rawValue]
    }
}
