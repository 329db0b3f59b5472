#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

/// Where a ``LoadShedder`` reads how busy the CPU is, as a fraction in `0...1`.
public struct CPUUsage: Sendable {
    let read: @Sendable () -> Double?

    /// The machine's CPU use since the previous reading: on Linux the busy share of the time in
    /// `/proc/stat` (every CPU, every process — what Kratos' BBR reads through gopsutil); where
    /// that file is missing, this process's CPU time over the wall time of all cores.
    public static var system: CPUUsage {
        let sampler = SystemCPUSampler()
        return CPUUsage(read: { sampler.sample() })
    }

    /// A reading supplied by `read` (a test's, or a container-aware one).
    public static func custom(_ read: @escaping @Sendable () -> Double) -> CPUUsage {
        CPUUsage(read: read)
    }
}

/// Reads CPU time totals and turns two readings into a usage fraction.
final class SystemCPUSampler: Sendable {
    private struct Reading {
        var busy: Double
        var total: Double
    }

    private let previous = Mutex<Reading?>(nil)
    private let cores = Double(max(sysconf(Int32(_SC_NPROCESSORS_ONLN)), 1))

    func sample() -> Double? {
        guard let reading = Self.procStat() ?? self.processTime() else { return nil }
        return self.previous.withLock { previous in
            defer { previous = reading }
            guard let last = previous, reading.total > last.total else { return nil }
            return min(max((reading.busy - last.busy) / (reading.total - last.total), 0), 1)
        }
    }

    /// The first line of `/proc/stat`: `cpu user nice system idle iowait irq softirq steal …`,
    /// in clock ticks; busy is everything but idle and iowait.
    private static func procStat() -> Reading? {
        let descriptor = open("/proc/stat", O_RDONLY)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 4 else { return nil }
        let line = buffer[..<count].prefix { $0 != UInt8(ascii: "\n") }
        let fields = line.split(separator: UInt8(ascii: " ")).dropFirst().compactMap { Double(String(decoding: $0, as: UTF8.self)) }
        guard fields.count >= 4 else { return nil }
        let total = fields.prefix(8).reduce(0, +)
        let idle = fields[3] + (fields.count > 4 ? fields[4] : 0)
        return Reading(busy: total - idle, total: total)
    }

    /// This process's CPU time against the wall time of every core.
    private func processTime() -> Reading? {
        var cpu = timespec()
        var wall = timespec()
        guard clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu) == 0, clock_gettime(CLOCK_MONOTONIC, &wall) == 0 else {
            return nil
        }
        func seconds(_ spec: timespec) -> Double { Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9 }
        return Reading(busy: seconds(cpu), total: seconds(wall) * self.cores)
    }
}
