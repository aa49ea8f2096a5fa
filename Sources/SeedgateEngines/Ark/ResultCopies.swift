import Synchronization
import SeedgateDomain

/// Result copies waiting to be made, apart from the status checks that found them: a sweep's checks go
/// on while the files it found finished come down (a 5 s video is a few MB, and a sweep over thousands
/// of tasks finds dozens), and at most `concurrency` copies run at once.
///
/// Each task is queued once: a check that finds a task already queued or being copied (its claim ran out
/// meanwhile and it was claimed again) leaves it to that copy. A queued copy not begun at shutdown is
/// dropped; its claim runs out and the task is checked and copied again.
public final class ResultCopies: Sendable {
    package struct Job: Sendable {
        package let info: ArkTask
        package let task: VideoTask
        package let owner: String
    }

    private let queued: Mutex<Set<String>> = Mutex([])
    private let closed = Mutex(false)
    private let stream: AsyncStream<Job>
    private let continuation: AsyncStream<Job>.Continuation
    package let concurrency: Int

    package init(concurrency: Int) {
        (stream, continuation) = AsyncStream.makeStream(of: Job.self)
        self.concurrency = max(1, concurrency)
    }

    /// False when the task's copy is already queued or running.
    package func enqueue(_ info: ArkTask, of task: VideoTask, owner: String) -> Bool {
        guard queued.withLock({ $0.insert(task.id).inserted }) else { return false }
        if case .terminated = continuation.yield(Job(info: info, task: task, owner: owner)) {
            queued.withLock { _ = $0.remove(task.id) }
            return false
        }
        return true
    }

    private func done(_ taskID: String) {
        queued.withLock { _ = $0.remove(taskID) }
    }

    /// Takes no more copies; `run` finishes those it has begun and returns.
    package func finish() {
        closed.withLock { $0 = true }
        continuation.finish()
    }

    /// Makes the queued copies, `concurrency` at a time, until `finish`.
    package func run(_ copy: @escaping @Sendable (Job) async -> Void) async {
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for await job in stream {
                if closed.withLock({ $0 }) || Task.isCancelled {
                    done(job.task.id)
                    continue
                }
                if running == concurrency {
                    await group.next()
                    running -= 1
                }
                running += 1
                group.addTask {
                    await copy(job)
                    self.done(job.task.id)
                }
            }
        }
    }
}
