import Foundation
import Subprocess
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Runs command-line tools (ffprobe, ffmpeg) through swift-subprocess: no thread blocked, every other
/// descriptor of the server (sockets, database files, the serve lock) closed in the child, signals reset.
///
/// Not Foundation's `Process`: on Linux its `run()` crashed here (inside its own memcpy) when many
/// descriptors were open, which is exactly the state of a busy server.
public enum ProcessRunner {
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: Data
        public var stderr: Data
    }

    package struct NotFound: Error, CustomStringConvertible {
        package var tool: String
        package init(tool: String) { self.tool = tool }
        package var description: String { "\(tool) was not found on PATH; install ffmpeg (apt-get install -y ffmpeg)" }
    }

    /// Runs `tool` to completion with no input, collecting its output; kills it (and reports status
    /// 137) when `timeout` passes, and kills it when the calling task is cancelled. Its environment is
    /// this process's, with `environment`'s variables set over it.
    public static func run(_ tool: String, _ arguments: [String], environment: [String: String] = [:], timeout: Duration) async throws -> Output {
        guard let executable = locate(tool) else { throw NotFound(tool: tool) }
        var options = PlatformOptions()
        // A process group of its own: a Ctrl-C or SIGTERM aimed at the server's group reaches the server,
        // which shuts down gracefully and lets a render in progress finish, instead of killing ffmpeg.
        options.processGroupID = 0
        // Cancelled or timed out: killed at once (the teardown ends with SIGKILL).
        options.teardownSequence = []
        let changes = Dictionary(uniqueKeysWithValues: environment.compactMap { name, value in Environment.Key(rawValue: name).map { ($0, Optional(value)) } })
        let configuration = Configuration(
            executable: .path(FilePath(executable)), arguments: Arguments(arguments), environment: .inherit.updating(changes), platformOptions: options
        )
        return try await withThrowingTaskGroup(of: Output?.self) { group in
            group.addTask {
                let result = try await Subprocess.run(
                    configuration, input: .none, output: .bytes(limit: outputLimit), error: .bytes(limit: outputLimit)
                )
                let status: Int32 = switch result.terminationStatus {
                case .exited(let code): code
                case .signaled(let signal): 128 + signal
                }
                return Output(status: status, stdout: Data(result.standardOutput), stderr: Data(result.standardError))
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let output = first else {
                // The timeout came first: cancelling the run kills the tool.
                return Output(status: 128 + SIGKILL, stdout: Data(), stderr: Data("timed out after \(timeout)".utf8))
            }
            return output
        }
    }

    /// More output than any of our tools writes (ffprobe's JSON, ffmpeg's errors); past it the run fails.
    static let outputLimit = 16 << 20

    private static let searchPath: [String] = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map(String.init)
    }()

    package static func locate(_ tool: String) -> String? {
        if tool.contains("/") { return FileManager.default.isExecutableFile(atPath: tool) ? tool : nil }
        return searchPath.map { "\($0)/\(tool)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
