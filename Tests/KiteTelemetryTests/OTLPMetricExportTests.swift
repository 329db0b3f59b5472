import Foundation
@testable import KiteTelemetry
import KiteTestSupport
import Logging
import Testing

@Suite("OTLP metric exports under delta temporality", .enabled(if: Peers.isAvailable("python3")), .timeLimit(.minutes(2)))
struct OTLPMetricExportTests {
    @Test("a forceFlush while a periodic export is in flight does not send the same delta twice")
    func concurrentExportsDoNotDoubleCount() async throws {
        let receiver = try await OTLPReceiver()
        let registry = MetricRegistry()
        let orders = registry.counter("orders", help: "").labels()
        var configuration = OTLPExporterConfiguration(endpoint: receiver.endpoint)
        configuration.temporality = .delta
        let exporter = OTLPMetricExporter(
            configuration: configuration,
            resource: OTLPResource(serviceName: "delta-test"),
            registry: registry,
            logger: .init(label: "test")
        )
        orders.increment(by: 5)
        try await receiver.control(#"{"hang": true}"#)
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask { await exporter.export() }  // the periodic export, held by the collector
            try await waitUntil("the collector to hold the first export") { try await receiver.held() == 1 }
            group.addTask { await exporter.export() }  // a forceFlush meanwhile
            // Give the second export every chance to race: if it is sent while the first is
            // held, the collector sees a second request.
            let raced: Void? = try? await waitUntil(timeout: .milliseconds(500), "a second request") {
                try await receiver.received().requests.count >= 1
            }
            #expect(raced == nil, "the second export was sent while the first was in flight")
            try await receiver.release()
            for try await delivered in group { #expect(delivered) }
        }
        let received = try await receiver.received()
        let values = received.metrics.filter { $0.name == "orders" }.flatMap { $0.points.compactMap(\.value) }
        #expect(values == [5], "\(values)")
    }

    @Test("delta baselines are kept only for the series of the last delivered export")
    func removedSeriesLeaveNoBaseline() async throws {
        let receiver = try await OTLPReceiver()
        let registry = MetricRegistry()
        let family = registry.counter("jobs", help: "", labelNames: ["queue"])
        var configuration = OTLPExporterConfiguration(endpoint: receiver.endpoint)
        configuration.temporality = .delta
        let exporter = OTLPMetricExporter(configuration: configuration, resource: OTLPResource(serviceName: "delta-test"), registry: registry, logger: .init(label: "test"))
        let series = (0..<50).map { family.labels("q\($0)") }
        for one in series { one.increment() }
        #expect(await exporter.export())
        #expect(exporter.baselineCount >= 50)
        for one in series.dropFirst(10) { family.remove(one) }
        #expect(await exporter.export())
        // The 40 removed series left with their baselines.
        #expect(exporter.baselineCount == Self.countersAndHistograms(in: registry))
        #expect(registry.collect().filter { $0.name == "jobs_total" }.count == 10)
    }

    /// The series a delta export measures from a baseline.
    static func countersAndHistograms(in registry: MetricRegistry) -> Int {
        registry.collect().filter { sample in
            switch sample.value {
            case .counter, .histogram: true
            case .gauge: false
            }
        }.count
    }
}
