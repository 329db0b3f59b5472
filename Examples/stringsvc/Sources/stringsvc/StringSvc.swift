import ArgumentParser
import KiteHTTP
import KiteTelemetry
import Logging
import ServiceLifecycle
import StringService
import UnixSignals

/// Runs stringsvc: `swift run stringsvc [--port 8080] [--host 0.0.0.0]`.
///
/// Logs go to standard output (logfmt; `KITE_LOG_FORMAT=json` for JSON), spans to the console
/// exporter unless `OTEL_TRACES_EXPORTER` or an OTLP endpoint says otherwise, and metrics are
/// served at `/metrics` on the service's own port (set `OTEL_EXPORTER_PROMETHEUS_PORT` to also
/// open the stand-alone scrape listener). `OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318`
/// exports traces, metrics and logs to a collector too. Every other `OTEL_*` variable Kite knows
/// applies.
@main
struct StringSvc: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stringsvc", abstract: "go-kit's stringsvc, on Kite.")

    @Option(help: "The port to listen on, 0…65535 (0: any free port).")
    var port = 8080

    @Option(help: "The address to listen on.")
    var host = "0.0.0.0"

    func validate() throws {
        guard (0...65535).contains(self.port) else {
            throw ValidationError("--port must be in 0…65535 (0: any free port), not \(self.port)")
        }
    }

    func run() async throws {
        let environment = ProcessEnvironment.current
        let telemetry = Telemetry.bootstrap(serviceName: "stringsvc", environment: environment) { configuration in
            if environment["OTEL_TRACES_EXPORTER"] == nil, case .none = configuration.tracesExporter {
                configuration.tracesExporter = .console
            }
            if environment["OTEL_EXPORTER_PROMETHEUS_PORT"] == nil { configuration.scrapeListener = nil }
        }
        let endpoints = StringEndpoints(service: BasicStringService(), telemetry: telemetry)
        let logger = telemetry.logger
        let server = HTTPServer.stringService(
            endpoints,
            configuration: .init(host: self.host, port: self.port),
            telemetry: telemetry
        ) { port in
            logger.info("stringsvc listening", metadata: ["host": "\(self.host)", "port": "\(port)"])
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: telemetry), .init(service: server)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: telemetry.makeLogger(label: "kite.lifecycle")
            )
        )
        try await group.run()
    }
}
