import Synchronization

/// Set once when a worker should stop taking new work.
package final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    package init() {}
    package var isStopped: Bool { flag.load(ordering: .relaxed) }
    package func stop() { flag.store(true, ordering: .relaxed) }
}
