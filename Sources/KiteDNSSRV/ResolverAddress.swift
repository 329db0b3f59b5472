import Foundation
import NIOCore

/// Where DNS questions go: a configured server, or the first `nameserver` of `/etc/resolv.conf`.
enum ResolverAddress {
    /// `host:port`, `host` (port 53), `[v6]:port` or a bare IPv6 address, as a socket address.
    static func parse(_ text: String) throws -> SocketAddress {
        var host = text
        var port = 53
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.hasPrefix(":") {
                guard let value = Int(rest.dropFirst()) else { throw DNSError.transport("bad resolver port in \(text)") }
                port = value
            }
        } else if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") {
            host = String(text[..<colon])
            guard let value = Int(text[text.index(after: colon)...]) else { throw DNSError.transport("bad resolver port in \(text)") }
            port = value
        }
        guard (1...65535).contains(port) else { throw DNSError.transport("resolver port \(port) out of range") }
        do {
            return try SocketAddress(ipAddress: host, port: port)
        } catch {
            throw DNSError.transport("the resolver \(text) is not an IP address")
        }
    }

    /// The first `nameserver` line of a resolv.conf text.
    static func nameserver(inResolvConf text: String) -> String? {
        for line in text.split(whereSeparator: \.isNewline) {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.count >= 2, fields[0] == "nameserver" { return String(fields[1]) }
        }
        return nil
    }

    /// The system's resolver, from `/etc/resolv.conf`.
    static func system() throws -> SocketAddress {
        guard let text = try? String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8),
              let server = Self.nameserver(inResolvConf: text)
        else { throw DNSError.noResolver }
        return try Self.parse(server)
    }
}
