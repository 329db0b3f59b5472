/// Durations written as decimal seconds, `0.000123456`: exact to the nanosecond, trailing zeros
/// trimmed (one fraction digit kept), with no floating-point formatting on the way.
package enum SecondsText {
    /// `nanoseconds` as seconds.
    package static func string(nanoseconds: UInt64) -> String {
        // Through the stack: up to 15 bytes (all durations under 10⁵ s) make a small string,
        // with no allocation.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { buffer in
            let count = self.write(nanoseconds: nanoseconds, into: buffer)
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[0..<count]), as: UTF8.self)
        }
    }

    /// `duration` as seconds; a negative duration keeps its sign.
    package static func string(_ duration: Duration) -> String {
        guard let nanoseconds = self.nanoseconds(of: duration) else { return "-" + self.string(.zero - duration) }
        return self.string(nanoseconds: nanoseconds)
    }

    /// Appends `duration` as seconds; a negative duration keeps its sign.
    static func append<Output: ByteOutput & ~Copyable>(_ duration: Duration, to output: inout Output) {
        if let nanoseconds = self.nanoseconds(of: duration) {
            self.append(nanoseconds: nanoseconds, to: &output)
        } else {
            output.append(UInt8(ascii: "-"))
            self.append(nanoseconds: self.nanoseconds(of: .zero - duration) ?? 0, to: &output)
        }
    }

    /// Whole nanoseconds in a duration that is not negative; `nil` for a negative one.
    package static func nanoseconds(of duration: Duration) -> UInt64? {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0 else { return nil }
        return UInt64(seconds) &* 1_000_000_000 &+ UInt64(attoseconds / 1_000_000_000)
    }

    /// Appends `nanoseconds` as seconds.
    static func append<Output: ByteOutput & ~Copyable>(nanoseconds: UInt64, to output: inout Output) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { buffer in
            let count = self.write(nanoseconds: nanoseconds, into: buffer)
            output.append(bytes: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<count]))
        }
    }

    /// Writes the text into `buffer` (at least 31 bytes) and returns its length.
    private static func write(nanoseconds: UInt64, into buffer: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var whole = nanoseconds / 1_000_000_000
        var fraction = nanoseconds % 1_000_000_000
        // The whole seconds, written backwards into the buffer's tail, then moved to the front.
        var digits = 0
        repeat {
            buffer[31 - 1 - digits] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: whole % 10)
            whole /= 10
            digits += 1
        } while whole > 0
        for index in 0..<digits { buffer[index] = buffer[31 - digits + index] }
        buffer[digits] = UInt8(ascii: ".")
        var count = digits + 1
        var fractionDigits = 9
        while fractionDigits > 1, fraction % 10 == 0 {
            fraction /= 10
            fractionDigits -= 1
        }
        for index in stride(from: fractionDigits - 1, through: 0, by: -1) {
            buffer[count + index] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: fraction % 10)
            fraction /= 10
        }
        count += fractionDigits
        return count
    }
}
