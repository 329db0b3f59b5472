/// Route templates as the router reads them: literal segments, `:name` and `*` for any one
/// segment, `**` for the rest of the path.
enum HTTPRouteTemplate {
    /// Whether `template` matches `path` (without its query).
    static func matches(_ template: String, path: String) -> Bool {
        let patterns = template.split(separator: "/", omittingEmptySubsequences: true)
        let segments = path.prefix { $0 != "?" }.split(separator: "/", omittingEmptySubsequences: true)
        var index = 0
        for pattern in patterns {
            if pattern == "**" { return true }
            guard index < segments.count else { return false }
            if !(pattern == "*" || pattern.hasPrefix(":") || pattern == segments[index]) { return false }
            index += 1
        }
        return index == segments.count
    }
}
