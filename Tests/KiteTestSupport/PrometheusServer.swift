import Foundation

/// A real Prometheus server on 127.0.0.1 that scrapes its targets every second.
public final class PrometheusServer: @unchecked Sendable {
    /// The port it listens on, picked by the system.
    public let port: Int
    private let process: Process
    private let directory: URL

    /// Starts Prometheus scraping `target` (`host:port`) at `metricsPath`, and waits until it is ready.
    public convenience init(target: String, metricsPath: String = "/metrics") async throws {
        try await self.init(targets: [target], metricsPath: metricsPath)
    }

    /// Starts Prometheus scraping each of `targets` (`host:port`) at `metricsPath`, evaluating
    /// `ruleFiles` (absolute paths) every second, with `features` enabled (`exemplar-storage`),
    /// and waits until it is ready.
    public init(targets: [String], metricsPath: String = "/metrics", ruleFiles: [String] = [], features: [String] = []) async throws {
        let binary = try Peers.require("prometheus")
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("kite-prom-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        let rules = ruleFiles.isEmpty ? "" : "rule_files: [\(ruleFiles.map { "'\($0)'" }.joined(separator: ", "))]\n"
        let config = """
            global: {scrape_interval: 1s, evaluation_interval: 1s}
            \(rules)scrape_configs:
              - job_name: kite
                metrics_path: \(metricsPath)
                static_configs: [{targets: [\(targets.map { "'\($0)'" }.joined(separator: ", "))]}]
            """
        let configURL = self.directory.appendingPathComponent("prom.yml")
        try config.write(to: configURL, atomically: true, encoding: .utf8)
        self.process = Process()
        self.process.executableURL = URL(fileURLWithPath: binary)
        self.process.arguments = [
            "--config.file=\(configURL.path)",
            "--storage.tsdb.path=\(self.directory.appendingPathComponent("data").path)",
            // Port 0: Prometheus binds a port the system picks and logs it, so no race for it.
            "--web.listen-address=127.0.0.1:0",
        ] + features.map { "--enable-feature=\($0)" }
        let log = self.directory.appendingPathComponent("prom.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        self.process.standardOutput = handle
        self.process.standardError = handle
        try self.process.run()
        var bound = 0
        let marker = #"msg="Listening on" address=127.0.0.1:"#
        try await waitUntil("prometheus to log its address") {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            guard let line = text.split(separator: "\n").first(where: { $0.contains(marker) }),
                  let range = line.range(of: marker)
            else { return false }
            bound = Int(line[range.upperBound...].prefix { $0.isNumber }) ?? 0
            return bound > 0
        }
        self.port = bound
        let port = bound
        try await waitUntil("prometheus to become ready") {
            try await httpRequest("http://127.0.0.1:\(port)/-/ready").status == 200
        }
    }

    /// Waits until `count` targets have been scraped successfully.
    public func waitForTargetUp(count: Int = 1) async throws {
        try await waitUntil("prometheus to scrape the target") {
            let result = try await httpRequest("http://127.0.0.1:\(self.port)/api/v1/targets")
            return result.text.components(separatedBy: #""health":"up""#).count - 1 >= count
        }
    }

    /// A query Prometheus refused: it does not parse, or cannot be evaluated.
    public struct QueryError: Error, StopsWaiting, CustomStringConvertible {
        public var query: String
        public var message: String
        public var description: String { "prometheus refused \(self.query): \(self.message)" }
    }

    /// Runs an instant query and returns the `data.result` array.
    /// - Throws: ``QueryError`` when Prometheus answers with an error (a query that does not parse).
    public func query(_ promql: String) async throws -> [[String: Any]] {
        let data = try await self.api("query", promql, [:])
        guard let series = (data as? [String: Any])?["result"] as? [[String: Any]] else {
            throw URLError(.cannotParseResponse)
        }
        return series
    }

    /// The exemplars of the series `promql` selects over the last `minutes` minutes
    /// (`/api/v1/query_exemplars`): the `data` array, one entry per series with its `exemplars`.
    public func queryExemplars(_ promql: String, minutes: Int = 10) async throws -> [[String: Any]] {
        let end = Date().timeIntervalSince1970
        let data = try await self.api("query_exemplars", promql, ["start": String(end - Double(minutes * 60)), "end": String(end + 60)])
        return data as? [[String: Any]] ?? []
    }

    /// The `data` of `/api/v1/<endpoint>?query=<promql>&…`.
    /// - Throws: ``QueryError`` when Prometheus answers with an error.
    private func api(_ endpoint: String, _ promql: String, _ parameters: [String: String]) async throws -> Any? {
        var components = URLComponents(string: "http://127.0.0.1:\(self.port)/api/v1/\(endpoint)")
        components?.queryItems = [URLQueryItem(name: "query", value: promql)]
            + parameters.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) }
        // URLComponents leaves "+" alone, which a query string reads as a space.
        let encoded = components?.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        components?.percentEncodedQuery = encoded
        guard let url = components?.url?.absoluteString else { throw URLError(.badURL) }
        let result = try await httpRequest(url)
        guard let json = try JSONSerialization.jsonObject(with: result.body) as? [String: Any] else {
            throw URLError(.cannotParseResponse)
        }
        if json["status"] as? String == "error" {
            throw QueryError(query: promql, message: json["error"] as? String ?? result.text)
        }
        return json["data"]
    }

    /// Waits until `promql` returns at least one series, and returns them.
    public func waitForSeries(_ promql: String) async throws -> [[String: Any]] {
        var found: [[String: Any]] = []
        try await waitUntil("prometheus to return \(promql)") {
            found = try await self.query(promql)
            return !found.isEmpty
        }
        return found
    }

    deinit {
        let directory = self.directory
        ChildStopper.stop(self.process) { try? FileManager.default.removeItem(at: directory) }
    }
}
