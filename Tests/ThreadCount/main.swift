import Foundation
import KiteTelemetry
import Logging

/// `kite-thread-count [N] [leak]`: creates `N` (default 1,000) `Telemetry` values one after
/// another, shutting each down (not with `leak`), and prints the process's thread count before
/// and after as `threads before=B after=A`. The test of `Telemetry.shutdown()` runs it as a
/// process of its own, where no other test makes threads.
///
/// libdispatch's worker threads (named after their queue's quality of service, `…-qos`,
/// `…-qos.overcommit`) are left out of the count: the runtime starts and reaps them on its own.
func threadCount() -> Int {
    threadNames().filter { !$0.contains("qos") }.count
}

/// The names of the process's threads, for a report when the counts differ.
func threadNames() -> [String] {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
    return tasks.compactMap { try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8) }
        .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.sorted()
}

let count = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 1000
let leak = CommandLine.arguments.contains("leak")
var configuration = TelemetryConfiguration(serviceName: "thread-count", environment: [:])
configuration.scrapeListener = nil
configuration.processMetrics = false
configuration.logOutput = DiscardingLogOutput()
// A few pipelines first, so that what the runtime starts once (the threads of the pool that runs
// tasks, NIO's shared thread pool) is counted in "before".
for _ in 0..<20 {
    let warmUp = Telemetry(configuration: configuration)
    warmUp.logger.info("warm-up")
    await warmUp.shutdown()
}
let before = threadCount()
let namesBefore = threadNames()
for index in 0..<count {
    let telemetry = Telemetry(configuration: configuration)
    telemetry.logger.info("pipeline \(index)")
    if leak {
        telemetry.logSink.flush()
    } else {
        await telemetry.shutdown()
    }
}
let after = threadCount()
print("threads before=\(before) after=\(after)")
if after != before { print("names before: \(namesBefore)\nnames after: \(threadNames())") }
