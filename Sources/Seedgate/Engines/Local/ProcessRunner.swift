import Foundation
import Synchronization

/// Runs a command-line tool (ffprobe, ffmpeg) to completion without blocking a thread of the
/// cooperative pool. Output goes to temporary files, so a chatty tool can never fill a pipe and hang.
enum ProcessRunner {
    struct Output: Sendable {
        var status: Int32
        var stdout: Data
        var stderr: Data
    }

    struct NotFound: Error, CustomStringConvertible {
        var tool: String
        var description: String { "\(tool) was not found on PATH; install ffmpeg (apt-get install -y ffmpeg)" }
    }

    /// Runs `tool` with `arguments`; kills it when `timeout` passes or the calling task is cancelled.
    static func run(_ tool: String, _ arguments: [String], timeout: Duration) async throws -> Output {
        guard let executable = locate(tool) else { throw NotFound(tool: tool) }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("seedgate-\(UUID().uuidString)")
        let outURL = scratch.appendingPathExtension("out")
        let errURL = scratch.appendingPathExtension("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)

        let status: Int32 = try await withTaskCancellationHandler {
            try await withThrowingTaskGroup(of: Int32?.self) { group in
                group.addTask {
                    await withCheckedContinuation { continuation in
                        process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
                        do {
                            try launchLock.withLock { _ in try process.run() }
                        } catch {
                            process.terminationHandler = nil
                            continuation.resume(returning: -1)
                        }
                    }
                }
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    return nil
                }
                let first = try await group.next() ?? nil
                if first == nil, process.isRunning { process.terminate() }
                group.cancelAll()
                return first ?? -2
            }
        } onCancel: {
            if process.isRunning { process.terminate() }
        }
        return Output(
            status: status,
            stdout: (try? Data(contentsOf: outURL)) ?? Data(),
            stderr: (try? Data(contentsOf: errURL)) ?? Data()
        )
    }

    /// Foundation's `Process.run()` is not safe to call from several threads at once on Linux (seen:
    /// a crash in its memcpy under parallel tests), so launches take turns. The processes still run in parallel.
    private static let launchLock = Mutex<Void>(())

    private static let searchPath: [String] = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map(String.init)
    }()

    static func locate(_ tool: String) -> String? {
        if tool.contains("/") { return FileManager.default.isExecutableFile(atPath: tool) ? tool : nil }
        return searchPath.map { "\($0)/\(tool)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
