import W3CTraceContext

/// The `traceparent` header, parsed as W3C Trace Context level 1 says, with future versions.
///
/// - The version is two lower-case hex digits; `ff` is invalid.
/// - Version `00` is exactly 55 characters: `00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>`.
/// - A higher version is parsed for the same three fields when the header is at least 55
///   characters long and the flags are followed by the end or a `-`; what follows is ignored.
/// - Hex digits are lower case; an all-zero trace-id or parent-id is invalid.
///
/// Anything else is not a `traceparent`: the caller's trace is not continued.
enum W3CTraceParent {
    /// The ids and flags of `value` (leading and trailing spaces and tabs ignored), or `nil`.
    static func parse(_ value: Substring) -> (traceID: TraceID, spanID: SpanID, flags: TraceFlags)? {
        let header = Array(value.trimmingSpaces().utf8)
        guard header.count >= 55,
              let versionHigh = Self.lowerHex(header[0]), let versionLow = Self.lowerHex(header[1]),
              header[2] == UInt8(ascii: "-")
        else { return nil }
        let version = versionHigh << 4 | versionLow
        switch version {
        case 0xFF: return nil
        case 0x00: guard header.count == 55 else { return nil }
        default: guard header.count == 55 || header[55] == UInt8(ascii: "-") else { return nil }
        }
        guard header[35] == UInt8(ascii: "-"), header[52] == UInt8(ascii: "-"),
              let traceBytes = Self.bytes(header[3..<35]), let spanBytes = Self.bytes(header[36..<52]),
              let flagBytes = Self.bytes(header[53..<55]),
              traceBytes.contains(where: { $0 != 0 }), spanBytes.contains(where: { $0 != 0 })
        else { return nil }
        var traceID = TraceID.null
        traceID.withMutableSpan { span in
            for index in 0..<16 { span[index] = traceBytes[index] }
        }
        var spanID = SpanID.null
        spanID.withMutableSpan { span in
            for index in 0..<8 { span[index] = spanBytes[index] }
        }
        return (traceID, spanID, TraceFlags(rawValue: flagBytes[0]))
    }

    /// The value of a lower-case hex digit, or `nil` (upper case is not valid here).
    private static func lowerHex(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit &- UInt8(ascii: "a") &+ 10
        default: nil
        }
    }

    private static func bytes(_ digits: ArraySlice<UInt8>) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = digits.startIndex
        while index < digits.endIndex {
            guard let high = self.lowerHex(digits[index]), let low = self.lowerHex(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }
}
