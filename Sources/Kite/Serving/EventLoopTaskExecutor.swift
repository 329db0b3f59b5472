import NIOCore

/// A `TaskExecutor` that runs jobs on one SwiftNIO event loop.
///
/// A request's task is started with this executor as its preference, so the endpoint — and every
/// non-isolated async function it calls — runs on the thread of the connection that brought the
/// request: no hop to the global executor and back per request. An endpoint that blocks its thread
/// therefore blocks that event loop's other connections too; endpoints are async and must not
/// block, as anywhere in Swift concurrency.
package final class EventLoopTaskExecutor: TaskExecutor {
    package let eventLoop: any EventLoop

    package init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        self.eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
