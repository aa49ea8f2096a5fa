import Foundation
import Testing
@testable import Seedgate

@Suite("the seedgate command")
struct CommandLineTests {
    /// The `seedgate` binary that `swift test` built beside the test bundle.
    static func binary() throws -> String {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("seedgate").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        let fallback = FileManager.default.currentDirectoryPath + "/.build/debug/seedgate"
        guard FileManager.default.isExecutableFile(atPath: fallback) else { throw FixtureError("seedgate binary not found; run swift build first") }
        return fallback
    }

    static func run(_ arguments: [String]) async throws -> (status: Int32, stdout: String) {
        let output = try await ProcessRunner.run(try binary(), arguments, timeout: .seconds(60))
        return (output.status, String(decoding: output.stdout, as: UTF8.self))
    }

    @Test("keys create / list / revoke work while a server runs on the same data dir")
    func keysWhileServing() async throws {
        let directory = TestSupport.temporaryDirectory()
        try await withGateway(dataDirectory: directory) { gw in
            let created = try await Self.run(["keys", "create", "--data-dir", directory, "--name", "cli"])
            #expect(created.status == 0)
            let secret = try #require(created.stdout.split(separator: "\n").last.map(String.init))
            #expect(secret.hasPrefix("sk-sg-"))
            let use = try await gw.post("/v1/seedance2/private-avatar", key: secret, #"{"group": {"name": "g"}, "url": "\#(gw.url("good.png"))"}"#)
            #expect(use.status == 200)

            let listed = try await Self.run(["keys", "list", "--data-dir", directory])
            #expect(listed.stdout.contains("\tcli\t"))
            #expect(!listed.stdout.contains(secret))
            let id = try #require(listed.stdout.split(separator: "\n").first { $0.contains("\tcli\t") }?.split(separator: "\t").first.map(String.init))

            let revoked = try await Self.run(["keys", "revoke", "--data-dir", directory, id])
            #expect(revoked.status == 0)
            #expect(try await gw.get("/v1/tasks/task_x", key: secret).status == 401)
            let again = try await Self.run(["keys", "revoke", "--data-dir", directory, id])
            #expect(again.status != 0)
        }
    }

    @Test("serve prints a first key with a working curl example, once")
    func firstKeyAnnounced() async throws {
        let directory = TestSupport.temporaryDirectory()
        let binary = try Self.binary()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--port", "0", "--data-dir", directory]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        var text = ""
        let deadline = Date().addingTimeInterval(30)
        while !text.contains("poll the task id"), Date() < deadline {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        let secret = try #require(text.firstMatch(of: #/sk-sg-[a-z0-9]{40}/#).map { String($0.output) })
        #expect(text.contains("-H 'Authorization: Bearer \(secret)'"))
        #expect(text.contains("/v1/seedance2/private-avatar"))
        process.terminate()
        process.waitUntilExit()
        // SIGTERM is a graceful shutdown: a clean exit.
        #expect(process.terminationStatus == 0)

        let provider = try await SQLiteProvider.open(path: "\(directory)/seedgate.sqlite", readers: 1, logger: TestSupport.logger)
        let store = Store(provider: provider)
        #expect(try await store.authenticate(secret: secret) != nil)
        #expect(try await store.keyCount() == 1)
        await provider.close()
    }
}
