import Foundation
import SeedgateApp
import SeedgateClient
import SeedgateEngines
import SeedgateDomain
import SeedgateSupport
import Synchronization
import Testing

@Suite("the Swift SDK and the client CLI against a real Seedgate")
struct ClientTests {
    /// A real `seedgate serve` on a port of its own, so the links it hands out (its public URL) reach it
    /// as they do in production; `body` gets its base URL and first key.
    static func withServer(_ body: (String, String) async throws -> Void) async throws {
        let (server, port, announced) = try await ServerProcess.onFreePort(directory: TestSupport.temporaryDirectory())
        let key = try #require(announced.firstMatch(of: #/sk-sg-[a-z0-9]{40}/#).map { String($0.output) }, "\(announced)")
        do {
            try await body("http://127.0.0.1:\(port)", key)
            await server.stop()
        } catch {
            await server.stop()
            throw error
        }
    }

    static func client(_ gw: Gateway, key: String) throws -> SeedgateClient {
        SeedgateClient(baseURL: "http://127.0.0.1:\(try #require(gw.port))", apiKey: key)
    }

    @Test("SDK: a local image becomes an Active asset and a video downloaded to disk, with progress reported all the way")
    func sdkJourney() async throws {
        let fixtures = try await MediaFixtures.prepare()
        try await Self.withServer { base, key in
            let sdk = SeedgateClient(baseURL: base, apiKey: key)
            let asset = try await sdk.addAsset(file: "\(fixtures)/good.png", type: .image)
            #expect(asset.status == .active && asset.assetURL.hasPrefix("asset://asset-"))
            let photo = try await sdk.upload(file: "\(fixtures)/good2.jpg", type: .image)
            #expect(photo.kind == .image && photo.size > 0)
            // The engine renders one video at a time: a longer one first keeps ours queued for a few
            // seconds, so its progress is seen on the way however fast the render or late the first poll.
            let blocker = try await sdk.generate(GenerationOptions(prompt: "a long one first", duration: 15, resolution: "1080p"))
            let id = try await sdk.generate(GenerationOptions(prompt: "walks", duration: 4, images: [asset.assetURL, photo.url]))
            var updates: [ClientVideoTask] = []
            for try await update in sdk.follow(taskID: id, pollInterval: .milliseconds(100)) { updates.append(update) }
            let last = try #require(updates.last)
            #expect(last.status == .completed && updates.count >= 2, "\(updates.map { "\($0.status.rawValue) \($0.progress)" })")
            #expect(zip(updates, updates.dropFirst()).allSatisfy { $0.progress <= $1.progress }, "progress only moves forward")
            let path = TestSupport.temporaryDirectory() + "/out.mp4"
            let reports = Mutex<[(Int64, Int64?)]>([])
            let bytes = try await sdk.download(try #require(last.videoURL), to: path) { written, total in reports.withLock { $0.append((written, total)) } }
            let seen = reports.withLock { $0 }
            #expect(bytes > 0 && seen.last?.0 == bytes && seen.last?.1 == bytes, "\(seen.count) reports")
            let probed = try await ProbedVideo.probe(try Data(contentsOf: URL(fileURLWithPath: path)))
            #expect(abs(probed.duration - 4) < 0.05)
            let first = try await sdk.wait(taskID: blocker)
            let account = try await sdk.account()
            #expect(account.spent == last.cost! + first.cost! && account.held == 0)
            let listed = try await sdk.tasks(status: .completed)
            #expect(listed.tasks.map(\.id) == [id, blocker], "newest first")
        }
    }

    @Test("SDK: refusals carry status, code, field and request id; another key cannot use an upload; an unknown status is tolerated")
    func sdkErrors() async throws {
        let fixtures = try await MediaFixtures.prepare()
        try await withGateway { gw in
            let sdk = try Self.client(gw, key: try await gw.newKey())
            let other = try Self.client(gw, key: try await gw.newKey("other"))
            do {
                _ = try await sdk.upload(file: "\(fixtures)/notmedia.png")
                Issue.record("a file that is not media was accepted")
            } catch let error as SeedgateClientError {
                #expect(error.status == 400 && error.code == "unsupported_media" && error.param == "file" && error.requestID?.hasPrefix("req_") == true, "\(error)")
                #expect(error.isRefusal && !error.isNetwork)
            }
            await #expect(throws: SeedgateClientError.self) { try await sdk.upload(file: "\(fixtures)/good.png", type: .video) }
            let mine = try await sdk.upload(file: "\(fixtures)/good.png")
            do {
                _ = try await other.generate(GenerationOptions(prompt: "x", images: [mine.url]))
                Issue.record("another key used the upload")
            } catch let error as SeedgateClientError {
                #expect(error.code == "upload_not_yours" && error.param == "image_urls[0]", "\(error)")
            }
            do {
                _ = try await sdk.generate(GenerationOptions(prompt: "x", duration: 99))
                Issue.record("duration 99 was accepted")
            } catch let error as SeedgateClientError {
                #expect(error.status == 400 && error.message.hasPrefix("duration"), "\(error)")
            }
            let nowhere = "http://127.0.0.1:\(try freePort())"
            let unreachable = SeedgateClient(baseURL: nowhere, apiKey: "k", retry: .none)
            do {
                _ = try await unreachable.account()
                Issue.record("no server answered, yet no error")
            } catch let error as SeedgateClientError {
                #expect(error.isNetwork && error.message == "cannot reach \(nowhere): connection refused", "\(error)")
            }
            #expect(ClientVideoTask.Status(rawValue: "paused") == .unknown("paused") && !ClientVideoTask.Status(rawValue: "paused").isFinal)
        }
    }

    @Test("SDK: a webhook signed by the server verifies; a changed body, another secret or an old timestamp does not")
    func webhookVerification() throws {
        let secret = "whsec_" + Data((0..<24).map { UInt8($0) }).base64EncodedString()
        let now = Date()
        let timestamp = String(Int64(now.timeIntervalSince1970))
        let body = #"{"code":200,"data":{"id":"task_1","status":"completed"}}"#
        let signature = try #require(WebhookSignature.sign(secret: secret, id: "msg_1", timestamp: Int64(timestamp)!, body: body))
        #expect(SeedgateClient.verifyWebhook(body: body, id: "msg_1", timestamp: timestamp, signature: signature, secret: secret, now: now))
        #expect(!SeedgateClient.verifyWebhook(body: body + " ", id: "msg_1", timestamp: timestamp, signature: signature, secret: secret, now: now))
        #expect(!SeedgateClient.verifyWebhook(body: body, id: "msg_1", timestamp: timestamp, signature: signature,
                                              secret: "whsec_" + Data(repeating: 9, count: 24).base64EncodedString(), now: now))
        #expect(!SeedgateClient.verifyWebhook(body: body, id: "msg_1", timestamp: timestamp, signature: signature, secret: secret, now: now.addingTimeInterval(3600)))
    }

    static func cli(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        let output = try await ProcessRunner.run(try CommandLineTests.binary(), arguments, timeout: .seconds(180))
        return (output.status, String(decoding: output.stdout, as: UTF8.self), String(decoding: output.stderr, as: UTF8.self))
    }

    @Test("CLI: generate uploads a local image and downloads the video; assets add waits for Active; tasks and account; exit codes tell refusal, failure and network apart")
    func cliJourney() async throws {
        let fixtures = try await MediaFixtures.prepare()
        try await Self.withServer { base, key in
            let server = ["--url", base, "--api-key", key]
            let out = TestSupport.temporaryDirectory() + "/cat.mp4"
            let made = try await Self.cli(["generate", "a kitten yawning", "--image", "\(fixtures)/good2.jpg", "--duration", "4", "--audio",
                                           "--last-frame-image", "-o", out, "--json"] + server)
            #expect(made.status == 0, "\(made.stdout) \(made.stderr)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(made.stdout.utf8)) as? [String: Any], "\(made.stdout)")
            #expect(report["status"] as? String == "completed" && report["file"] as? String == out)
            #expect(made.stderr.contains("100%"), "progress is shown: \(made.stderr)")
            let probed = try await ProbedVideo.probe(try Data(contentsOf: URL(fileURLWithPath: out)))
            #expect(abs(probed.duration - 4) < 0.05 && probed.audioCodec == "aac")
            #expect(FileManager.default.fileExists(atPath: out.replacingOccurrences(of: ".mp4", with: ".png")))
            let taskID = try #require(report["task_id"] as? String)

            let added = try await Self.cli(["assets", "add", "\(fixtures)/good.png", "--type", "image"] + server)
            #expect(added.status == 0 && added.stdout.hasPrefix("asset://asset-"), "\(added.stdout) \(added.stderr)")
            let failedAsset = try await Self.cli(["assets", "add", "\(fixtures)/small.png", "--type", "image"] + server)
            #expect(failedAsset.status == 3 && failedAsset.stderr.contains("asset_failed"), "\(failedAsset.stdout) \(failedAsset.stderr)")

            let listed = try await Self.cli(["tasks", "list", "--json"] + server)
            #expect(listed.status == 0 && listed.stdout.contains(taskID), "\(listed.stdout)")
            let shown = try await Self.cli(["tasks", "show", taskID] + server)
            #expect(shown.status == 0 && shown.stdout.hasPrefix("\(taskID)\tcompleted"), "\(shown.stdout)")
            let waited = try await Self.cli(["tasks", "wait", taskID, "--json"] + server)
            #expect(waited.status == 0 && waited.stdout.contains("\"completed\""), "\(waited.stdout)")
            let account = try await Self.cli(["account", "--json"] + server)
            #expect(account.status == 0 && account.stdout.contains("\"available\""), "\(account.stdout)")

            let refused = try await Self.cli(["generate", "x", "--duration", "99", "--json"] + server)
            #expect(refused.status == 2 && refused.stdout.contains("invalid_request") && refused.stderr.contains("duration"), "\(refused.stdout) \(refused.stderr)")
            let offline = try await Self.cli(["account", "--url", "http://127.0.0.1:\(try freePort())", "--api-key", key])
            #expect(offline.status == 4 && offline.stderr.contains(": connection refused"), "\(offline.stderr)")
            // The saved file is found under $HOME, and named when it holds no key.
            let home = TestSupport.temporaryDirectory()
            let keyless = try await ProcessRunner.run(try CommandLineTests.binary(), ["account"], environment: ["HOME": home], timeout: .seconds(30))
            #expect(keyless.status != 0 && String(decoding: keyless.stderr, as: UTF8.self).contains("API key"))
            #expect(String(decoding: keyless.stderr, as: UTF8.self).contains("\(home)/.config/seedgate/client.json"))
            try FileManager.default.createDirectory(atPath: home + "/.config/seedgate", withIntermediateDirectories: true)
            // A stray file in the way of nothing: the flags give both, so it is not read.
            try Data("not json".utf8).write(to: URL(fileURLWithPath: home + "/.config/seedgate/client.json"))
            let flagged = try await ProcessRunner.run(try CommandLineTests.binary(), ["account", "--json"] + server, environment: ["HOME": home], timeout: .seconds(30))
            #expect(flagged.status == 0, "\(String(decoding: flagged.stderr, as: UTF8.self))")
            // Needed (an empty SEEDGATE_API_KEY counts as unset), it is read, and named as not JSON.
            let unreadable = try await ProcessRunner.run(try CommandLineTests.binary(), ["account"], environment: ["HOME": home, "SEEDGATE_API_KEY": ""], timeout: .seconds(30))
            let complaint = String(decoding: unreadable.stderr, as: UTF8.self)
            #expect(unreadable.status != 0 && complaint.contains("\(home)/.config/seedgate/client.json is not a JSON object"), "\(complaint)")
            try Data(#"{"url": "\#(base)", "api_key": "\#(key)"}"#.utf8).write(to: URL(fileURLWithPath: home + "/.config/seedgate/client.json"))
            let saved = try await ProcessRunner.run(try CommandLineTests.binary(), ["account", "--json"], environment: ["HOME": home], timeout: .seconds(30))
            #expect(saved.status == 0 && String(decoding: saved.stdout, as: UTF8.self).contains("\"available\""), "\(String(decoding: saved.stderr, as: UTF8.self))")
        }
    }

    @Test("the README's Swift example is the example target the build compiles")
    func readmeExampleCompiles() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let example = try String(contentsOf: root.appendingPathComponent("Examples/SeedgateClientExample/main.swift"), encoding: .utf8)
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let start = try #require(readme.range(of: "```swift\n// The README's Swift example"))
        let block = readme[start.upperBound...].prefix { _ in true }
        let end = try #require(block.range(of: "```\n"))
        #expect("// The README's Swift example" + block[..<end.lowerBound] == example)
    }
}
