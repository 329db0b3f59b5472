import W3CTraceContext

/// The `tracestate` header, read as W3C Trace Context level 1 says.
///
/// - Members are separated by commas; spaces and tabs around them are ignored, and empty
///   members are allowed (and skipped).
/// - A key starts with a lower-case letter or a digit and has at most 256 characters of
///   `a-z 0-9 _ - * / @`; a value has 1 to 256 printable ASCII characters other than `,` and
///   `=`, and does not end with a space.
/// - A member that breaks these rules is dropped, and the others are kept (the specification
///   forbids an invalid `tracestate` from affecting the `traceparent`; dropping only what is
///   invalid keeps what other vendors put there). A key seen again is dropped: the first (the
///   most recent position) wins.
/// - At most 32 members are kept: those past the 32nd are dropped.
/// - When the members kept exceed 512 characters joined, members longer than 128 characters
///   are dropped first, then members from the end, until they fit.
enum W3CTraceStateHeader {
    static let maxMembers = 32
    static let maxLength = 512
    static let longMember = 128

    /// The valid members of `value`, within the limits.
    static func parse(_ value: Substring) -> TraceState {
        var members: [(key: Substring, value: Substring)] = []
        for part in value.split(separator: ",", omittingEmptySubsequences: false) {
            let member = part.trimmingSpaces()
            guard !member.isEmpty,
                  let equals = member.firstIndex(of: "="),
                  case let key = member[..<equals], case let value = member[member.index(after: equals)...],
                  Self.isKey(key), Self.isValue(value),
                  !members.contains(where: { $0.key == key })
            else { continue }
            members.append((key, value))
            if members.count == Self.maxMembers { break }
        }
        var length = Self.joinedLength(members)
        if length > Self.maxLength {
            members.removeAll { $0.key.utf8.count + 1 + $0.value.utf8.count > Self.longMember }
            length = Self.joinedLength(members)
            while length > Self.maxLength, !members.isEmpty {
                members.removeLast()
                length = Self.joinedLength(members)
            }
        }
        return TraceState(members.map { (TraceState.Vendor(rawValue: String($0.key)), String($0.value)) })
    }

    private static func joinedLength(_ members: [(key: Substring, value: Substring)]) -> Int {
        members.reduce(max(members.count - 1, 0)) { $0 + $1.key.utf8.count + 1 + $1.value.utf8.count }
    }

    /// `key = ( lcalpha / DIGIT ) 0*255 ( keychar )`.
    static func isKey(_ key: Substring) -> Bool {
        let bytes = key.utf8
        guard let first = bytes.first, (1...256).contains(bytes.count), Self.isLowerAlphaOrDigit(first) else { return false }
        return bytes.allSatisfy { byte in
            Self.isLowerAlphaOrDigit(byte) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
                || byte == UInt8(ascii: "*") || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "@")
        }
    }

    /// `value = 0*255(chr) nblk-chr`: printable ASCII but `,` and `=`, not ending in a space.
    static func isValue(_ value: Substring) -> Bool {
        let bytes = value.utf8
        guard let last = bytes.last, (1...256).contains(bytes.count), last != UInt8(ascii: " ") else { return false }
        return bytes.allSatisfy { byte in
            (0x20...0x7E).contains(byte) && byte != UInt8(ascii: ",") && byte != UInt8(ascii: "=")
        }
    }

    private static func isLowerAlphaOrDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
