import NIOCore

/// A task executor that runs its jobs on one NIO event loop.
///
/// A task that prefers it runs on the thread that owns its connections: reading a request,
/// routing it and calling the upstream (AsyncHTTPClient picks the current event loop) then
/// happen without waking another thread. On small machines those wake-ups cost far more than
/// the routing itself.
///
/// ```swift
/// await withTaskExecutorPreference(EventLoopTaskExecutor(channel.eventLoop)) {
///     // runs on channel.eventLoop
/// }
/// ```
public final class EventLoopTaskExecutor: TaskExecutor {
    /// The loop every job runs on.
    public let eventLoop: any EventLoop

    /// An executor for `eventLoop`.
    public init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Runs `job` on ``eventLoop``; from the loop's own thread it is queued without a wake-up.
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
