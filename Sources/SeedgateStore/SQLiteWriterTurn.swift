#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Fairness between the writers of one SQLite file on different connections: a busy server's and
/// another process's beside it (`seedgate keys create`, a second store in the tests).
///
/// SQLite hands its write lock to whoever asks first once it is free, and a waiting writer only polls.
/// The server's writer begins its next transaction the moment it commits the last, so a writer in
/// another process polling every few milliseconds could wait out its whole busy timeout (10 s) and
/// fail with "database is locked". So a writer that finds the database locked says so, by holding a
/// shared `flock` on a file beside the database (`<database>-turn`) while it polls, every millisecond;
/// and a writer about to begin a transaction first gives way, for up to 100 ms, while anyone says so.
/// The locks are the kernel's: a process that dies lets go of them.
///
/// `@unchecked Sendable`: used only by the writer connection it belongs to, which one caller holds at
/// a time (the provider's writer lock); the descriptor itself never changes.
package final class SQLiteWriterTurn: @unchecked Sendable {
    private let descriptor: Int32
    private var waiting = false
    /// The longest a writer gives way before it begins all the same.
    package static let giveWayLimit = Duration.milliseconds(100)

    /// nil when the file cannot be made (a read-only directory): the writers then only poll.
    package init?(database path: String) {
        let descriptor = open(path + "-turn", O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return nil }
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// This writer waits for the lock: others give way until it has it.
    package func wait() {
        guard !waiting else { return }
        waiting = flock(descriptor, LOCK_SH | LOCK_NB) == 0
    }

    /// This writer has the lock, or has given up.
    package func stopWaiting() {
        guard waiting else { return }
        flock(descriptor, LOCK_UN)
        waiting = false
    }

    /// Whether a writer on another connection says it waits.
    package var othersWait: Bool {
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else { return true }
        flock(descriptor, LOCK_UN)
        return false
    }

    /// Before a transaction begins: waits while another connection's writer waits, up to `giveWayLimit`.
    package func giveWay() async {
        guard othersWait else { return }
        let deadline = ContinuousClock.now + Self.giveWayLimit
        while othersWait, ContinuousClock.now < deadline {
            // Cancelled: the sleep would return at once; the transaction goes on instead of spinning.
            do { try await Task.sleep(for: .milliseconds(1)) } catch { return }
        }
    }
}
