/// One server a ``NATSClient`` may connect to, from `nats://[user:password@|token@]host[:port]`.
public struct NATSServerAddress: Sendable, Hashable, CustomStringConvertible {
    /// The host: a name or an IP address (IPv6 without brackets).
    public var host: String
    /// The port. Default 4222.
    public var port: Int
    /// The user, when the URL names one (`nats://user:password@host`).
    public var user: String?
    /// The password that goes with ``user``.
    public var password: String?
    /// The token, when the URL carries one alone (`nats://token@host`).
    public var token: String?

    /// NATS's port.
    public static let defaultPort = 4222

    /// Parses `url`: `nats://host:port` (the scheme may be left out), with credentials before `@`.
    /// - Throws: ``NATSError/invalidURL(_:)``.
    public init(_ url: String) throws(NATSError) {
        var rest = Substring(url)
        if let scheme = rest.firstRange(of: "://") {
            guard rest[..<scheme.lowerBound] == "nats" else { throw .invalidURL(url) }
            rest = rest[scheme.upperBound...]
        }
        if let slash = rest.firstIndex(of: "/") {
            guard rest[slash...].allSatisfy({ $0 == "/" }) else { throw .invalidURL(url) }
            rest = rest[..<slash]
        }
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                self.user = String(credentials[..<colon]).removingPercentEncoding()
                self.password = String(credentials[credentials.index(after: colon)...]).removingPercentEncoding()
            } else {
                self.token = String(credentials).removingPercentEncoding()
            }
        }
        var port = Self.defaultPort
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            let after = rest[rest.index(after: close)...]
            rest = rest[rest.index(after: rest.startIndex)..<close]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let value = Int(after.dropFirst()) else { throw .invalidURL(url) }
                port = value
            }
        } else if let colon = rest.lastIndex(of: ":") {
            guard let value = Int(rest[rest.index(after: colon)...]) else { throw .invalidURL(url) }
            port = value
            rest = rest[..<colon]
        }
        guard !rest.isEmpty, (1...65535).contains(port) else { throw .invalidURL(url) }
        self.host = String(rest)
        self.port = port
    }

    /// `nats://host:port`, without credentials (for logs).
    public var description: String {
        self.host.contains(":") ? "nats://[\(self.host)]:\(self.port)" : "nats://\(self.host):\(self.port)"
    }
}

extension String {
    /// `%XX` escapes decoded (credentials in URLs), the text as it is when one is malformed.
    fileprivate func removingPercentEncoding() -> String {
        guard self.contains("%") else { return self }
        var bytes: [UInt8] = []
        var iterator = self.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next(), let low = iterator.next(),
                let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            else { return self }
            bytes.append(value)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
