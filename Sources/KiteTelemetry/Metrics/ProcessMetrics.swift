#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The standard process metrics, read from `/proc` before every scrape, named as Prometheus'
/// process collector names them: `process_cpu_seconds_total`, `process_resident_memory_bytes`,
/// `process_virtual_memory_bytes`, `process_open_fds`, `process_max_fds`,
/// `process_start_time_seconds`. On systems without `/proc` the gauges stay absent.
public enum ProcessMetrics {
    /// Registers the process metrics in `registry`.
    public static func register(in registry: MetricRegistry) {
        #if os(Linux)
        let cpu = registry.counter("process_cpu_seconds_total", help: "Total user and system CPU time spent in seconds.").labels()
        let resident = registry.gauge("process_resident_memory_bytes", help: "Resident memory size in bytes.").labels()
        let virtual = registry.gauge("process_virtual_memory_bytes", help: "Virtual memory size in bytes.").labels()
        let openFDs = registry.gauge("process_open_fds", help: "Number of open file descriptors.").labels()
        let maxFDs = registry.gauge("process_max_fds", help: "Maximum number of open file descriptors.").labels()
        let start = registry.gauge("process_start_time_seconds", help: "Start time of the process since unix epoch in seconds.").labels()
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        let bootTime = readFile("/proc/stat").flatMap(Self.bootTime(fromProcStat:))

        registry.addCollectHook {
            if let stat = readFile("/proc/self/stat").flatMap(Self.parseStat) {
                cpu.set(Double(stat.userTicks + stat.systemTicks) / ticksPerSecond)
                resident.set(Double(stat.residentPages) * pageSize)
                virtual.set(Double(stat.virtualBytes))
                if let bootTime {
                    start.set(bootTime + Double(stat.startTicks) / ticksPerSecond)
                }
            }
            if let count = countEntries(in: "/proc/self/fd") {
                openFDs.set(Double(count))
            }
            var limit = rlimit()
            if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 {
                maxFDs.set(Double(limit.rlim_cur))
            }
        }
        #endif
    }

    struct Stat: Equatable {
        var userTicks: UInt64
        var systemTicks: UInt64
        var startTicks: UInt64
        var virtualBytes: UInt64
        var residentPages: UInt64
    }

    /// Parses `/proc/self/stat`. The command name (field 2) may hold spaces and parentheses, so
    /// fields are counted from the last `)`.
    static func parseStat(_ text: String) -> Stat? {
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); field N is fields[N - 3].
        guard fields.count > 21,
              let user = UInt64(fields[11]), let system = UInt64(fields[12]),
              let start = UInt64(fields[19]), let virtual = UInt64(fields[20]),
              let resident = UInt64(fields[21])
        else { return nil }
        return Stat(userTicks: user, systemTicks: system, startTicks: start, virtualBytes: virtual, residentPages: resident)
    }

    static func bootTime(fromProcStat text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst("btime ".count).trimmingSpaces())
        }
        return nil
    }
}

/// Reads a whole (small, virtual) file; `nil` when it cannot be opened.
func readFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes = [UInt8]()
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count <= 0 { break }
        bytes.append(contentsOf: chunk[0..<count])
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// The number of entries in a directory, without `.` and `..`.
func countEntries(in path: String) -> Int? {
    guard let directory = opendir(path) else { return nil }
    defer { closedir(directory) }
    var count = 0
    while let entry = readdir(directory) {
        let isDot = withUnsafeBytes(of: entry.pointee.d_name) { name in
            name[0] == UInt8(ascii: ".") && (name[1] == 0 || (name[1] == UInt8(ascii: ".") && name[2] == 0))
        }
        if !isDot { count += 1 }
    }
    return count - 1  // the descriptor opendir itself holds
}
