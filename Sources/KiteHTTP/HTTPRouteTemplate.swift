/// Route templates as the router reads them: literal segments, `:name` and `*` for any one
/// segment, `**` for the rest of the path.
enum HTTPRouteTemplate {
    /// Whether `template` matches `path` (without its query).
    static func matches(_ template: String, path: String) -> Bool {
        self.parameters(template, path: Substring(path)) != nil
    }

    /// The values of `template`'s `:name` segments in `path` (its query, if any, is ignored), or
    /// `nil` when `template` does not match `path`.
    static func parameters(_ template: String, path: Substring) -> [String: String]? {
        let patterns = template.split(separator: "/", omittingEmptySubsequences: true)
        let segments = self.withoutQuery(path).split(separator: "/", omittingEmptySubsequences: true)
        var parameters: [String: String] = [:]
        var index = 0
        for pattern in patterns {
            if pattern == "**" { return parameters }
            guard index < segments.count else { return nil }
            if pattern.hasPrefix(":") {
                parameters[String(pattern.dropFirst())] = String(segments[index])
            } else if pattern != "*" && pattern != segments[index] {
                return nil
            }
            index += 1
        }
        return index == segments.count ? parameters : nil
    }

    /// Whether `template` has only literal segments.
    static func isLiteral(_ template: String) -> Bool {
        !template.split(separator: "/").contains { $0.hasPrefix(":") || $0 == "*" || $0 == "**" }
    }

    /// `path` up to its query's `?`. Found over bytes, not characters: it runs for every request.
    static func withoutQuery(_ path: Substring) -> Substring {
        path.utf8.firstIndex(of: UInt8(ascii: "?")).map { path[..<$0] } ?? path
    }

    /// `path` without its query, as `/a/b`: empty segments (`//`, a trailing `/`) left out.
    static func normalized(_ path: Substring) -> Substring {
        let path = self.withoutQuery(path)
        let bytes = path.utf8
        var previous = UInt8(ascii: "/")
        var clean = bytes.first == UInt8(ascii: "/")
        for byte in bytes.dropFirst() {
            if byte == UInt8(ascii: "/") && previous == UInt8(ascii: "/") {
                clean = false
                break
            }
            previous = byte
        }
        if clean && (bytes.count == 1 || bytes.last != UInt8(ascii: "/")) { return path }
        return Substring("/" + path.split(separator: "/", omittingEmptySubsequences: true).joined(separator: "/"))
    }
}
