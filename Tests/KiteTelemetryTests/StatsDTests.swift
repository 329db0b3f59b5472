import KiteTelemetry
import KiteTestSupport
import Logging
import Testing

@Suite("StatsD push")
struct StatsDTests {
    /// A known workload: two counter series, two gauges, a histogram.
    static func workload() -> (MetricRegistry, MetricFamily<Counter>) {
        let registry = MetricRegistry()
        let hits = registry.counter("hits", help: "Hits.", labelNames: ["route"])
        hits.labels("/a").increment(by: 5)
        hits.labels("/b").increment()
        hits.labels("/b").increment()
        registry.gauge("temperature", help: "").labels().set(7)
        registry.gauge("cold", help: "").labels().set(-3)
        let latency = registry.histogram("latency_seconds", help: "", buckets: HistogramBuckets([0.1, 1])).labels()
        for value in [0.05, 0.05, 0.05, 0.5, 5] { latency.observe(value) }
        return (registry, hits)
    }

    @Test("plain StatsD gets the exact aggregated counts, gauges and timings; later flushes send deltas")
    func plainStatsD() async throws {
        let agent = try DatagramReceiver()
        let (registry, hits) = Self.workload()
        let exporter = StatsDExporter(
            configuration: .init(host: "127.0.0.1", port: agent.port, dialect: .statsd, prefix: "svc"),
            registry: registry,
            logger: Logger(label: "test")
        )
        await exporter.flush()
        let expected: Set<String> = [
            "svc.hits_total.route./a:5|c",
            "svc.hits_total.route./b:2|c",
            "svc.temperature:7|g",
            "svc.cold:0|g",
            "svc.cold:-3|g",
            "svc.latency_seconds:100|ms|@0.3333333333333333",
            "svc.latency_seconds:1000|ms|@0.5",  // 0.5 and 5 (above the largest bound)
        ]
        let first = await agent.receiveLines { Set($0).isSuperset(of: expected) }.lines
        #expect(Set(first) == expected, "\(first)")

        hits.labels("/a").increment()
        await exporter.flush()
        let second = await agent.receiveLines { $0.contains { $0.contains("hits_total") } }.lines
        #expect(second.filter { $0.contains("hits_total") } == ["svc.hits_total.route./a:1|c"])
        #expect(second.contains("svc.temperature:7|g"))
        #expect(!second.contains { $0.hasPrefix("svc.latency_seconds") }, "no new observations, no histogram lines")
    }

    @Test("DogStatsD gets tags and distributions; hostile label values cannot break a line")
    func dogStatsD() async throws {
        let agent = try DatagramReceiver()
        let (registry, hits) = Self.workload()
        hits.labels("a:b|c@d#e,f\ng h").increment(by: 3)
        let exporter = StatsDExporter(
            configuration: .init(host: "127.0.0.1", port: agent.port, dialect: .dogstatsd),
            registry: registry,
            logger: Logger(label: "test")
        )
        await exporter.flush()
        let expected: Set<String> = [
            "hits_total:5|c|#route:/a",
            "hits_total:2|c|#route:/b",
            "hits_total:3|c|#route:a_b_c_d_e_f_g_h",
            "temperature:7|g",
            "cold:0|g",
            "cold:-3|g",
            "latency_seconds:0.1|d|@0.3333333333333333",
            "latency_seconds:1|d|@0.5",
        ]
        let lines = await agent.receiveLines { Set($0).isSuperset(of: expected) }.lines
        #expect(Set(lines) == expected, "\(lines)")
    }

    @Test("many lines share datagrams that never exceed the maximum payload")
    func packing() async throws {
        let agent = try DatagramReceiver()
        let registry = MetricRegistry()
        let family = registry.counter("requests", help: "", labelNames: ["id"])
        for index in 0..<200 { family.labels("series-\(index)").increment(by: index + 1) }
        let exporter = StatsDExporter(
            configuration: .init(host: "127.0.0.1", port: agent.port, maxPacketSize: 200),
            registry: registry,
            logger: Logger(label: "test")
        )
        await exporter.flush()
        let (lines, datagrams) = await agent.receiveLines { $0.count >= 200 }
        #expect(lines.count == 200)
        #expect(datagrams.allSatisfy { $0.count <= 200 })
        #expect(datagrams.count < 200 / 3, "lines share datagrams: \(datagrams.count) for 200 lines")
        #expect(lines.contains("requests_total.id.series-199:200|c"))
        let text = String(decoding: registry.render(format: .prometheusText), as: UTF8.self)
        #expect(text.contains("kite_statsd_packets_sent_total \(datagrams.count)\n"))
    }

    @Test("a Unix domain datagram socket, as the Datadog agent offers, gets the same lines")
    func unixSocket() async throws {
        let agent = try DatagramReceiver(unixSocket: ())
        let path = try #require(agent.path)
        let (registry, _) = Self.workload()
        let environment = ["KITE_STATSD_ADDRESS": "unix://\(path)", "KITE_STATSD_DIALECT": "dogstatsd"]
        let telemetryConfiguration = TelemetryConfiguration(serviceName: "s", environment: environment)
        #expect(telemetryConfiguration.warnings.isEmpty)
        let configuration = try #require(telemetryConfiguration.statsd)
        #expect(configuration.unixSocketPath == path)
        let exporter = StatsDExporter(configuration: configuration, registry: registry, logger: Logger(label: "test"))
        await exporter.flush()
        let lines = await agent.receiveLines { $0.contains("hits_total:5|c|#route:/a") }.lines
        #expect(lines.contains("hits_total:5|c|#route:/a"))
        #expect(lines.contains("temperature:7|g"))
    }

    @Test("an agent that cannot be reached costs nothing but a counted error")
    func unreachableAgent() async throws {
        let registry = MetricRegistry()
        registry.counter("x", help: "").labels().increment()
        let exporter = StatsDExporter(
            configuration: .init(host: "agent.invalid", port: 8125),
            registry: registry,
            logger: Logger(label: "test")
        )
        await exporter.flush()
        let text = String(decoding: registry.render(format: .prometheusText), as: UTF8.self)
        #expect(text.contains("kite_statsd_send_errors_total 1\n"))
    }

    @Test("KITE_STATSD_* configure the exporter")
    func environment() {
        let configuration = TelemetryConfiguration(serviceName: "s", environment: [
            "KITE_STATSD_ADDRESS": "127.0.0.1:9125",
            "KITE_STATSD_DIALECT": "dogstatsd",
            "KITE_STATSD_PREFIX": "orders",
            "KITE_STATSD_FLUSH_INTERVAL": "250",
            "KITE_STATSD_MAX_PACKET": "512",
        ])
        #expect(configuration.statsd == StatsDConfiguration(
            host: "127.0.0.1", port: 9125, dialect: .dogstatsd, prefix: "orders",
            flushInterval: .milliseconds(250), maxPacketSize: 512
        ))
        #expect(TelemetryConfiguration(serviceName: "s", environment: [:]).statsd == nil)
        let broken = TelemetryConfiguration(serviceName: "s", environment: ["KITE_STATSD_ADDRESS": "no-port"])
        #expect(broken.statsd == nil)
        #expect(broken.warnings.count == 1)
    }
}
