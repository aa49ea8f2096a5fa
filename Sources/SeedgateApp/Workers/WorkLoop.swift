import Logging
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport
import ServiceLifecycle

/// The loop every background worker runs: `concurrency` tasks, each doing one claimed piece of work at
/// a time, waiting on the signal (or a short poll) when there is none. On graceful shutdown no new work
/// is claimed; work in hand is finished first, which is the safe point.
package struct WorkLoop: Sendable {
    package let signal: WorkSignal
    package let concurrency: Int
    package let logger: Logger
    package let name: String
    /// How long an idle loop waits for the signal before looking again.
    package var idleWait: Duration = .seconds(2)

    /// `step` claims and does one piece of work, returning false when there was none.
    package func run(_ step: @escaping @Sendable () async throws -> Bool) async {
        let stopping = StopFlag()
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for _ in 0..<max(1, concurrency) {
                    group.addTask {
                        while !stopping.isStopped && !Task.isCancelled {
                            do {
                                if try await !step() { await signal.wait(upTo: idleWait) }
                            } catch is CancellationError {
                                return
                            } catch {
                                logger.error("\(name) error", metadata: ["error": "\(logDescription(of: error))"])
                                try? await Task.sleep(for: .seconds(1))
                            }
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            stopping.stop()
            signal.notify()
        }
    }
}
