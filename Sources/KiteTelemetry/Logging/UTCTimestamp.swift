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

        self.appendDigits(year, count: 4, to: &buffer)
        buffer.append(UInt8(ascii: "-"))
        self.appendDigits(month, count: 2, to: &buffer)
        buffer.append(UInt8(ascii: "-"))
        self.appendDigits(day, count: 2, to: &buffer)
        buffer.append(UInt8(ascii: "T"))
        self.appendDigits(secondOfDay / 3600, count: 2, to: &buffer)
        buffer.append(UInt8(ascii: ":"))
        self.appendDigits(secondOfDay / 60 % 60, count: 2, to: &buffer)
        buffer.append(UInt8(ascii: ":"))
        self.appendDigits(secondOfDay % 60, count: 2, to: &buffer)
        buffer.append(UInt8(ascii: "."))
        self.appendDigits(micros, count: 6, to: &buffer)
        buffer.append(UInt8(ascii: "Z"))
    }

    private static func appendDigits<Output: ByteOutput & ~Copyable>(_ value: Int, count: Int, to buffer: inout Output) {
        switch count {
        case 2:
            buffer.append(UInt8(truncatingIfNeeded: 48 &+ value / 10))
            buffer.append(UInt8(truncatingIfNeeded: 48 &+ value % 10))
        default:
            var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (48, 48, 48, 48, 48, 48)
            withUnsafeMutableBytes(of: &digits) { scratch in
                var remaining = value
                for index in stride(from: count - 1, through: 0, by: -1) {
                    scratch[index] = UInt8(truncatingIfNeeded: 48 &+ remaining % 10)
                    remaining /= 10
                }
                buffer.append(bytes: UnsafeRawBufferPointer(rebasing: scratch[0..<count]))
            }
        }
    }
}
