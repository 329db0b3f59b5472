/// The checks NATS makes of subjects, made before anything is sent.
enum NATSSubject {
    /// Whether `subject` can be subscribed to: non-empty dot-separated tokens without white
    /// space or control characters; `*` and `>` as whole tokens, `>` only last.
    static func isValidFilter(_ subject: String) -> Bool {
        self.validate(subject, wildcards: true)
    }

    /// Whether `subject` can be published to: as a filter, without wildcard tokens.
    static func isValidPublish(_ subject: String) -> Bool {
        self.validate(subject, wildcards: false)
    }

    /// Whether `group` can name a queue group: non-empty, without white space or control characters.
    static func isValidQueue(_ group: String) -> Bool {
        !group.isEmpty && group.utf8.allSatisfy { $0 > 0x20 && $0 != 0x7F }
    }

    /// One pass, no allocation: publishing checks every subject it sends to.
    private static func validate(_ subject: String, wildcards: Bool) -> Bool {
        var length = 0  // of the token being read
        var first: UInt8 = 0
        var afterFullWildcard = false
        func tokenIsValid() -> Bool {
            guard length > 0, !afterFullWildcard else { return false }
            guard length == 1, first == UInt8(ascii: "*") || first == UInt8(ascii: ">") else { return true }
            afterFullWildcard = first == UInt8(ascii: ">")
            return wildcards
        }
        for byte in subject.utf8 {
            if byte <= 0x20 || byte == 0x7F { return false }
            if byte == UInt8(ascii: ".") {
                guard tokenIsValid() else { return false }
                length = 0
                continue
            }
            if length == 0 { first = byte }
            length += 1
        }
        return tokenIsValid()
    }
}
