/// An OTLP/HTTP endpoint's URL taken apart: what the configuration checks
/// (``OTLPExporterConfiguration/problem(withURL:)``) and where ``OTLPHTTPConnection`` connects.
struct OTLPURL {
    /// Why a text cannot be an OTLP/HTTP endpoint: it completes "the URL is not …".
    struct Problem: Error {
        var text: String
    }

    /// `https://` rather than `http://`.
    var isHTTPS: Bool
    /// The host and port as written, without user information (the `Host` header).
    var authority: Substring
    /// The host (an IPv6 address without its brackets).
    var host: Substring
    /// The port, if the URL gives one.
    var port: Int?
    /// The path and query, without the fragment (empty when the URL has neither).
    var pathAndQuery: Substring

    /// Takes `url` apart: an `http://` or `https://` URL with a host (a bracketed IPv6 address is
    /// closed) and, if any, a port in 0…65535, without spaces or control characters.
    init(_ url: String) throws(Problem) {
        guard !url.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else {
            throw Problem(text: "a URL without spaces or control characters")
        }
        let lowercased = url.lowercased()
        guard let scheme = ["http://", "https://"].first(where: { lowercased.hasPrefix($0) }) else {
            throw Problem(text: "an http:// or https:// URL")
        }
        let rest = url.dropFirst(scheme.count)
        var authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        let afterAuthority = rest[authority.endIndex...]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        let host: Substring
        let port: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]"), authority.distance(from: authority.startIndex, to: close) > 1 else {
                throw Problem(text: "a URL whose IPv6 address is closed with ]")
            }
            let after = authority[authority.index(after: close)...]
            guard after.isEmpty || after.hasPrefix(":") else { throw Problem(text: "a URL with a host and an optional :port") }
            host = authority[authority.index(after: authority.startIndex)..<close]
            port = after.isEmpty ? nil : after.dropFirst()
        } else {
            let parts = authority.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard let first = parts.first, !first.isEmpty, !(parts.count == 2 && parts[1].contains(":")) else {
                throw Problem(text: "a URL with a host")
            }
            host = first
            port = parts.count == 2 ? parts[1] : nil
        }
        if let port {
            guard port.allSatisfy(\.isASCII), let number = Int(port), (0...65535).contains(number) else {
                throw Problem(text: "a URL with a port in 0…65535")
            }
            self.port = number
        } else {
            self.port = nil
        }
        self.isHTTPS = scheme == "https://"
        self.authority = authority
        self.host = host
        self.pathAndQuery = afterAuthority.prefix { $0 != "#" }
    }
}
