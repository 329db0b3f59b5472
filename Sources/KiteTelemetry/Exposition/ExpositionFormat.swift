/// The two text formats a Prometheus server scrapes.
public enum ExpositionFormat: Sendable, Hashable {
    /// The Prometheus text format, version 0.0.4.
    case prometheusText
    /// OpenMetrics 1.0.0 text.
    case openMetrics

    /// The `Content-Type` of a body in this format.
    public var contentType: String {
        switch self {
        case .prometheusText: "text/plain; version=0.0.4; charset=utf-8"
        case .openMetrics: "application/openmetrics-text; version=1.0.0; charset=utf-8"
        }
    }

    /// The format a scraper asked for with its `Accept` header: OpenMetrics when it lists
    /// `application/openmetrics-text` (version 1.0.0 or no version) with a non-zero quality
    /// ranked at least as high as `text/plain`, otherwise the Prometheus text format.
    public static func negotiate(accept: String?) -> ExpositionFormat {
        guard let accept else { return .prometheusText }
        var openMetricsQuality = -1.0
        var textQuality = -1.0
        for range in accept.split(separator: ",") {
            let parts = range.split(separator: ";").map { $0.trimmingSpaces() }
            guard let mediaType = parts.first?.lowercased() else { continue }
            var quality = 1.0
            var version: Substring?
            for parameter in parts.dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingSpaces() }
                guard pair.count == 2 else { continue }
                switch pair[0].lowercased() {
                case "q": quality = Double(pair[1]) ?? 0
                case "version": version = pair[1]
                default: break
                }
            }
            switch mediaType {
            case "application/openmetrics-text" where version == nil || version == "1.0.0":
                openMetricsQuality = max(openMetricsQuality, quality)
            case "text/plain", "*/*", "text/*":
                textQuality = max(textQuality, quality)
            default:
                break
            }
        }
        return openMetricsQuality > 0 && openMetricsQuality >= textQuality ? .openMetrics : .prometheusText
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" { result = result.dropFirst() }
        while let last = result.last, last == " " || last == "\t" { result = result.dropLast() }
        return result
    }
}
