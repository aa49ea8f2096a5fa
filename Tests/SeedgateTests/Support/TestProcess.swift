import Foundation
import SeedgateEngines
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Long-running child processes for tests (moto's server, a `seedgate serve` to signal), started with
/// `posix_spawn` and waited for without blocking a thread. The product itself runs its tools through
/// swift-subprocess (`ProcessRunner.run`); tests need a handle that outlives one call.
enum TestProcess {
    /// A started child process.
    public final class Child: Sendable {
        public let pid: pid_t
        public let stdoutPath: String
        public let stderrPath: String
        /// Set, under its lock, in the same step as the child is reaped: `kill` never signals a pid that
        /// may already belong to another process.
        private let reaped = Mutex(false)

        package init(pid: pid_t, stdoutPath: String, stderrPath: String) {
            self.pid = pid
            self.stdoutPath = stdoutPath
            self.stderrPath = stderrPath
        }

        /// Waits for the child to exit and returns its exit status (128 + signal when killed). Polls
        /// with a backoff; a cancelled task still waits (sleeping on its thread), it does not spin.
        public func wait() async -> Int32 {
            var pause: UInt64 = 1_000_000
            while true {
                var status: Int32 = 0
                let result = reaped.withLock { reaped in
                    let result = waitpid(pid, &status, WNOHANG)
                    if result == pid { reaped = true }
                    return result
                }
                if result == pid {
                    let signal = status & 0x7F
                    return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
                }
                if result < 0 && errno != EINTR { return -1 }
                do { try await Task.sleep(nanoseconds: pause) } catch { usleep(UInt32(pause / 1000)) }
                pause = min(pause * 2, 50_000_000)
            }
        }

        public func kill(_ signal: Int32 = SIGKILL) {
            reaped.withLock { reaped in
                if !reaped { _ = Glibc.kill(pid, signal) }
            }
        }

        /// What the child has written so far.
        public func output() -> (stdout: Data, stderr: Data) {
            ((try? Data(contentsOf: URL(fileURLWithPath: stdoutPath))) ?? Data(), (try? Data(contentsOf: URL(fileURLWithPath: stderrPath))) ?? Data())
        }

        public func removeOutput() {
            try? FileManager.default.removeItem(atPath: stdoutPath)
            try? FileManager.default.removeItem(atPath: stderrPath)
        }
    }

    /// Starts `tool` with `arguments`, standard input from /dev/null, output to two temporary files.
    public static func start(_ tool: String, _ arguments: [String], environment: [String: String] = [:]) throws -> Child {
        guard let executable = ProcessRunner.locate(tool) else { throw ProcessRunner.NotFound(tool: tool) }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("seedgate-\(UUID().uuidString)").path
        let stdoutPath = scratch + ".out", stderrPath = scratch + ".err"

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        // Nothing else of the server's (sockets, database files, its lock file) reaches the child.
        if let closeFrom = Self.addCloseFrom { _ = closeFrom(&actions, 3) }

        // The server ignores or blocks some signals (for graceful shutdown); the child starts clean.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGPIPE, SIGHUP, SIGQUIT] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        // A process group of its own: a Ctrl-C or SIGTERM aimed at the server's group reaches the server,
        // which shuts down gracefully and lets a render in progress finish, instead of killing ffmpeg.
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))

        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let code = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard code == 0 else { throw SpawnFailed(tool: tool, code: code) }
        return Child(pid: pid, stdoutPath: stdoutPath, stderrPath: stderrPath)
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), looked up at run time because
    /// the Swift module does not export it. Without it, only close-on-exec descriptors are kept from children.
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let addCloseFrom: AddCloseFrom? = {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()

    package struct SpawnFailed: Error, CustomStringConvertible {
        package var tool: String
        package var code: Int32
        package var description: String { "could not start \(tool): \(String(cString: strerror(code)))" }
    }
}
