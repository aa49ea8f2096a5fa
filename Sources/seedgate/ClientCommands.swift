import ArgumentParser
import Foundation
import SeedgateClient

/// Where the client verbs find the server and the key: flags, else `SEEDGATE_URL` / `SEEDGATE_API_KEY`,
/// else `~/.config/seedgate/client.json` (`{"url": "...", "api_key": "..."}`, or the file
/// `SEEDGATE_CLIENT_CONFIG` names).
struct ClientOptions: ParsableArguments {
    @Option(help: "The Seedgate server (env SEEDGATE_URL; default http://127.0.0.1:8080).") var url: String?
    @Option(help: "The API key (env SEEDGATE_API_KEY).") var apiKey: String?
    @Flag(help: "Print JSON for scripts instead of text.") var json = false

    func client() throws -> SeedgateClient {
        // A variable set but empty counts as unset, as a shell's `VAR=` means.
        let environment = ProcessInfo.processInfo.environment.filter { !$0.value.isEmpty }
        var base = url ?? environment["SEEDGATE_URL"]
        var key = apiKey ?? environment["SEEDGATE_API_KEY"]
        // $HOME first: NSHomeDirectory() on Linux is the account's home from the password file.
        let home = environment["HOME"] ?? NSHomeDirectory()
        let file = environment["SEEDGATE_CLIENT_CONFIG"] ?? "\(home)/.config/seedgate/client.json"
        // The saved file only fills what the flags and the environment left out.
        if base == nil || key == nil, let data = FileManager.default.contents(atPath: file) {
            guard let saved = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                throw ValidationError("\(file) is not a JSON object like {\"url\": \"http://127.0.0.1:8080\", \"api_key\": \"sk-sg-...\"}")
            }
            base = base ?? saved["url"] as? String
            key = key ?? saved["api_key"] as? String
        }
        guard let key, !key.isEmpty else {
            throw ValidationError("give the API key with --api-key, SEEDGATE_API_KEY, or \"api_key\" in \(file)")
        }
        return SeedgateClient(baseURL: base ?? "http://127.0.0.1:8080", apiKey: key)
    }

    /// Prints `value` as JSON (with --json) or `text`.
    func emit(_ value: [String: Any?], text: String) {
        if json {
            let clean = value.compactMapValues { $0 }
            let data = (try? JSONSerialization.data(withJSONObject: clean, options: [.sortedKeys])) ?? Data("{}".utf8)
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(text)
        }
    }
}

/// Exit codes that tell outcomes apart: 0 done, 2 refused by the server, 3 the task or asset failed,
/// 4 the server could not be reached.
enum ClientExit {
    static let refused: Int32 = 2
    static let failed: Int32 = 3
    static let network: Int32 = 4

    /// Runs `body`, turning the SDK's errors into a message on stderr and the matching exit code.
    static func run(json: Bool, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as SeedgateClientError {
            let code: Int32 = error.isNetwork ? network : ["asset_failed", "task_failed"].contains(error.code) ? failed : refused
            if json {
                let object: [String: Any] = ["error": ["code": error.code, "message": error.message, "status": error.status as Any, "request_id": error.requestID as Any]
                    .compactMapValues { $0 is NSNull ? nil : $0 }]
                if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) { print(String(decoding: data, as: UTF8.self)) }
            }
            FileHandle.standardError.write(Data("seedgate: \(error)\n".utf8))
            throw ExitCode(code)
        }
    }
}

/// Progress on a terminal as one line redrawn; plain lines when piped.
struct ProgressLine {
    let terminal = isatty(STDERR_FILENO) == 1
    private var last = ""

    mutating func show(_ text: String, fraction: Double?) {
        guard text != last else { return }
        last = text
        if terminal {
            let width = 30
            let filled = Int((fraction ?? 0) * Double(width))
            let bar = fraction.map { _ in "[" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled) + "] " } ?? ""
            FileHandle.standardError.write(Data("\r\u{1B}[K\(bar)\(text)".utf8))
        } else {
            FileHandle.standardError.write(Data("\(text)\n".utf8))
        }
    }

    func done() {
        if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

struct Generate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a video: uploads local files, submits, shows progress, downloads the result.",
        discussion: "Exit codes: 0 done, 2 refused, 3 the task failed, 4 the server could not be reached."
    )
    @OptionGroup var client: ClientOptions
    @Argument(help: "What the video shows.") var prompt: String
    @Option(name: .customLong("image"), help: "An image: a local file, a URL or asset://<id> (repeat for references; one alone is the first frame).")
    var images: [String] = []
    @Option(help: "The first frame (with --last-frame).") var firstFrame: String?
    @Option(help: "The last frame.") var lastFrame: String?
    @Option(name: .customLong("video"), help: "A reference video: a local file, a URL or asset://<id>.") var videos: [String] = []
    @Option(name: .customLong("audio-ref"), help: "A reference audio file, URL or asset://<id>.") var audios: [String] = []
    @Option(help: "The model (default doubao-seedance-2.0).") var model = "doubao-seedance-2.0"
    @Option(help: "Seconds, 4 to 15 (default 5).") var duration: Int?
    @Option(help: "480p, 720p or 1080p (default 480p).") var resolution: String?
    @Option(help: "16:9, 9:16, 1:1, 4:3, 3:4, 21:9 or adaptive.") var ratio: String?
    @Option(help: "A seed, for the same video again.") var seed: Int64?
    @Flag(help: "Generate audio.") var audio = false
    @Flag(help: "Also keep the last frame (as <output>.png).") var lastFrameImage = false
    @Option(name: .shortAndLong, help: "Where to write the video (default <task id>.mp4).") var output: String?
    @Flag(help: "Submit and print the task id without waiting.") var noWait = false

    func run() async throws {
        let api = try client.client()
        try await ClientExit.run(json: client.json) {
            var progress = ProgressLine()
            func media(_ value: String, _ kind: MediaKind) async throws -> String {
                if value.hasPrefix("http://") || value.hasPrefix("https://") || value.hasPrefix("asset://") { return value }
                progress.show("uploading \(value)", fraction: nil)
                return try await api.upload(file: value, type: kind).url
            }
            var options = GenerationOptions(
                model: model, prompt: prompt, duration: duration, resolution: resolution, ratio: ratio, seed: seed,
                generateAudio: audio ? true : nil, returnLastFrame: lastFrameImage ? true : nil
            )
            for image in images { options.images.append(try await media(image, .image)) }
            if let firstFrame { options.firstFrame = try await media(firstFrame, .image) }
            if let lastFrame { options.lastFrame = try await media(lastFrame, .image) }
            for video in videos { options.videos.append(try await media(video, .video)) }
            for audio in audios { options.audios.append(try await media(audio, .audio)) }
            let id = try await api.generate(options, idempotencyKey: "cli-\(UUID().uuidString)")
            if noWait {
                client.emit(["task_id": id, "status": "pending"], text: id)
                return
            }
            var final: VideoTask?
            for try await update in api.follow(taskID: id) {
                progress.show("\(id) \(update.status.rawValue) \(update.progress)%", fraction: Double(update.progress) / 100)
                final = update
            }
            guard let task = final, task.status == .completed, let url = task.videoURL else {
                progress.done()
                throw SeedgateClientError(status: nil, code: "task_failed", message: "task \(id) \(final?.status.rawValue ?? "ended"): \(final?.errorMessage ?? "")", requestID: nil)
            }
            let path = output ?? "\(id).mp4"
            let bytes = try await api.download(url, to: path) { written, total in
                if let total, total > 0, isatty(STDERR_FILENO) == 1 {
                    var line = ProgressLine()
                    line.show("downloading \(written * 100 / total)%", fraction: Double(written) / Double(total))
                }
            }
            var frame: String?
            if let frameURL = task.lastFrameURL {
                frame = (path.hasSuffix(".mp4") ? String(path.dropLast(4)) : path) + ".png"
                try await api.download(frameURL, to: frame!)
            }
            progress.done()
            client.emit(
                ["task_id": id, "status": "completed", "file": path, "bytes": bytes, "last_frame": frame, "seed": task.seed, "cost": task.cost],
                text: "\(path) (\(bytes) bytes, task \(id), seed \(task.seed.map(String.init) ?? "?"))"
            )
        }
    }
}

struct Assets: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Assets for asset://<id> inputs.", subcommands: [Add.self, Show.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Upload a local file (or give a URL), submit it for review and wait: prints its asset:// id, or the reason it failed.",
            discussion: "Exit codes: 0 Active, 2 refused, 3 the review failed, 4 the server could not be reached."
        )
        @OptionGroup var client: ClientOptions
        @Argument(help: "A local file or a URL.") var file: String
        @Option(help: "image, video or audio.") var type: String = "image"
        @Option(help: "A name for it.") var name: String?

        func run() async throws {
            guard let kind = MediaKind(rawValue: type.lowercased()) else { throw ValidationError("--type must be image, video or audio") }
            let api = try client.client()
            try await ClientExit.run(json: client.json) {
                var url = file
                if !file.hasPrefix("http://") && !file.hasPrefix("https://") { url = try await api.upload(file: file, type: kind).url }
                let id = try await api.submitAsset(url: url, type: kind, name: name ?? (file as NSString).lastPathComponent)
                let asset = try await api.waitUntilActive(assetID: id)
                client.emit(["asset_id": asset.id, "asset_url": asset.assetURL, "status": "active", "group_id": asset.groupID], text: asset.assetURL)
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "An asset's state.")
        @OptionGroup var client: ClientOptions
        @Argument var id: String

        func run() async throws {
            let api = try client.client()
            try await ClientExit.run(json: client.json) {
                let asset = try await api.asset(id: id)
                let status = "\(asset.status)"
                client.emit(["asset_id": asset.id, "status": status, "error": asset.failureMessage], text: "\(asset.assetURL)\t\(status)\t\(asset.failureMessage ?? "")")
            }
        }
    }
}

struct Tasks: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Your video tasks.", subcommands: [List.self, Show.self, Cancel.self, Wait.self])

    static func describe(_ task: VideoTask) -> [String: Any?] {
        ["id": task.id, "status": task.status.rawValue, "progress": task.progress, "model": task.model, "duration": task.duration,
         "resolution": task.resolution, "video_url": task.videoURL, "error": task.errorMessage, "cost": task.cost]
    }

    static func line(_ task: VideoTask) -> String {
        "\(task.id)\t\(task.status.rawValue)\t\(task.progress)%\t\(task.model ?? "")\t\(task.errorMessage ?? task.videoURL ?? "")"
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Newest first.")
        @OptionGroup var client: ClientOptions
        @Option(help: "pending, processing, completed, failed or cancelled.") var status: String?
        @Option(help: "How many (1 to 100).") var limit = 20

        func run() async throws {
            let api = try client.client()
            try await ClientExit.run(json: client.json) {
                let page = try await api.tasks(status: status.map(VideoTask.Status.init(rawValue:)), limit: limit)
                if client.json {
                    let items = page.tasks.map { Tasks.describe($0).compactMapValues { $0 } }
                    let data = try JSONSerialization.data(withJSONObject: ["items": items, "next_cursor": page.nextCursor as Any].compactMapValues { $0 is NSNull ? nil : $0 }, options: [.sortedKeys])
                    print(String(decoding: data, as: UTF8.self))
                } else {
                    for task in page.tasks { print(Tasks.line(task)) }
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One task.")
        @OptionGroup var client: ClientOptions
        @Argument var id: String

        func run() async throws {
            let api = try client.client()
            try await ClientExit.run(json: client.json) {
                let task = try await api.task(id: id)
                client.emit(Tasks.describe(task), text: Tasks.line(task))
            }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a pending or processing task.")
        @OptionGroup var client: ClientOptions
        @Argument var id: String

        func run() async throws {
            let api = try client.client()
            try await ClientExit.run(json: client.json) {
                let task = try await api.cancel(taskID: id)
                client.emit(Tasks.describe(task), text: Tasks.line(task))
            }
        }
    }

    struct Wait: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Wait for a task to end; exit 3 unless it completed.")
        @OptionGroup var client: ClientOptions
        @Argument var id: String

        func run() async throws {
            let api = try client.client()
            try await ClientExit.run(json: client.json) {
                var progress = ProgressLine()
                var final: VideoTask?
                for try await update in api.follow(taskID: id) {
                    progress.show("\(id) \(update.status.rawValue) \(update.progress)%", fraction: Double(update.progress) / 100)
                    final = update
                }
                progress.done()
                guard let task = final else { return }
                client.emit(Tasks.describe(task), text: Tasks.line(task))
                if task.status != .completed {
                    throw SeedgateClientError(status: nil, code: "task_failed", message: "task \(id) \(task.status.rawValue)", requestID: nil)
                }
            }
        }
    }
}

struct AccountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "account", abstract: "Your key's balance, holds and spending.")
    @OptionGroup var client: ClientOptions

    func run() async throws {
        let api = try client.client()
        try await ClientExit.run(json: client.json) {
            let account = try await api.account()
            client.emit(
                ["key_id": account.keyID, "name": account.name, "balance": account.balance, "held": account.held, "available": account.available, "spent": account.spent],
                text: "\(account.name) (\(account.keyID)): \(account.available) credits available, \(account.held) held, \(account.spent) spent"
            )
        }
    }
}
