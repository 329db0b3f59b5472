#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Wall-clock time as nanoseconds since the Unix epoch, and its RFC 3339 rendering.
enum UTCTimestamp {
    /// Now, from `CLOCK_REALTIME`.
    static func nowNanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
    }

    /// Appends `2026-11-25T19:35:23.123456Z` (UTC, microseconds).
    static func appendRFC3339<Output: ByteOutput & ~Copyable>(_ nanoseconds: UInt64, to buffer: inout Output) {
        let seconds = Int64(nanoseconds / 1_000_000_000)
        let micros = Int((nanoseconds % 1_000_000_000) / 1000)
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = Int(seconds - days * 86_400)
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * monthIndex + 2) / 5 + 1)
        let month = Int(monthIndex < 10 ? monthIndex + 3 : monthIndex - 9)
        let year = Int(yearOfEra + era * 400 + (month <= 2 ? 1 : 0))

        // The 27 bytes are written in place: one capacity check, no call per byte.
        buffer.append(count: 27) { text in
            Self.writeDigits(year, count: 4, at: 0, in: text)
            text[4] = UInt8(ascii: "-")
            Self.writeDigits(month, count: 2, at: 5, in: text)
            text[7] = UInt8(ascii: "-")
            Self.writeDigits(day, count: 2, at: 8, in: text)
            text[10] = UInt8(ascii: "T")
            Self.writeDigits(secondOfDay / 3600, count: 2, at: 11, in: text)
            text[13] = UInt8(ascii: ":")
            Self.writeDigits(secondOfDay / 60 % 60, count: 2, at: 14, in: text)
            text[16] = UInt8(ascii: ":")
            Self.writeDigits(secondOfDay % 60, count: 2, at: 17, in: text)
            text[19] = UInt8(ascii: ".")
            Self.writeDigits(micros, count: 6, at: 20, in: text)
            text[26] = UInt8(ascii: "Z")
        }
    }

    /// Writes the last `count` decimal digits of `value`, zero-padded, at `offset`.
    @inline(__always)
    private static func writeDigits(_ value: Int, count: Int, at offset: Int, in text: UnsafeMutableRawBufferPointer) {
        var remaining = value
        var index = offset &+ count
        while index > offset {
            index &-= 1
            text[index] = UInt8(truncatingIfNeeded: 48 &+ remaining % 10)
            remaining /= 10
        }
    }
}
