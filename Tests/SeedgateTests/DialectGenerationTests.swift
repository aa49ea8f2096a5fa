import Foundation
import HTTPTypes
import SeedgateApp
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateSupport
import Testing

/// Seed 002's requests in toapis's and crun's spelling (dialects.md), from apimart's.
enum DialectTranslation {
    static func object(_ json: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    }
    static func json(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    /// The roles apimart gives `image_urls`: one plain image alone is the first frame, otherwise references.
    static func imagesWithRoles(_ apimart: [String: Any]) -> [[String: String]] {
        if let withRoles = apimart["image_with_roles"] as? [[String: String]] { return withRoles }
        let urls = apimart["image_urls"] as? [String] ?? []
        let alone = urls.count == 1 && apimart["video_urls"] == nil && apimart["audio_urls"] == nil && !urls[0].hasPrefix("asset://")
        return urls.map { ["url": $0, "role": alone ? "first_frame" : "reference_image"] }
    }

    static func toapis(_ apimart: [String: Any]) throws -> String {
        var body: [String: Any] = [:]
        body["model"] = (apimart["model"] as? String ?? "").replacingOccurrences(of: "2.0", with: "2-0")
        for key in ["prompt", "duration", "callback_url"] { body[key] = apimart[key] }
        body["aspect_ratio"] = apimart["size"]
        var metadata: [String: Any] = [:]
        for key in ["resolution", "generate_audio", "seed", "return_last_frame", "watermark", "tools"] { metadata[key] = apimart[key] }
        if !metadata.isEmpty { body["metadata"] = metadata }
        let images = imagesWithRoles(apimart)
        if !images.isEmpty { body["image_with_roles"] = images }
        if let videos = apimart["video_urls"] as? [String] { body["video_with_roles"] = videos.map { ["url": $0, "role": "reference_video"] } }
        if let audios = apimart["audio_urls"] as? [String] { body["audio_with_roles"] = audios.map { ["url": $0, "role": "reference_audio"] } }
        return try json(body)
    }

    static func crun(_ apimart: [String: Any]) throws -> String {
        let model = (apimart["model"] as? String ?? "").replacingOccurrences(of: "doubao-seedance-2.0", with: "bytedance/seedance2-0")
        var input: [String: Any] = [:]
        for key in ["prompt", "duration", "resolution", "seed", "return_last_frame", "watermark"] { input[key] = apimart[key] }
        input["audio"] = apimart["generate_audio"]
        if let size = apimart["size"] as? String { input["aspect_ratio"] = size == "adaptive" ? "auto" : size }
        let images = imagesWithRoles(apimart)
        let mode: String
        if images.contains(where: { $0["role"] != "reference_image" }) {
            mode = "i2v"
            input["img_urls"] = images.map { $0["url"]! }
        } else if !images.isEmpty || apimart["video_urls"] != nil || apimart["audio_urls"] != nil {
            mode = "r2v"
            if !images.isEmpty { input["reference_images"] = images.map { $0["url"]! } }
            input["reference_videos"] = apimart["video_urls"]
            input["reference_audios"] = apimart["audio_urls"]
        } else {
            mode = "t2v"
        }
        var body: [String: Any] = ["model": "\(model)-\(mode)", "input": input]
        body["callback_url"] = apimart["callback_url"]
        return try json(body)
    }
}

extension Gateway {
    /// Submits a toapis generation; returns the task id.
    func generateToapis(_ body: String, key: String) async throws -> String {
        let reply = try await post("/v1/videos/generations", key: key, body)
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.body["object"].string == "generation.task" && reply.body["status"].string == "queued", "\(reply.text)")
        return try #require(reply.body["id"].string, "\(reply.text)")
    }

    /// Submits a crun CreateTask; returns the task id.
    func generateCrun(_ body: String, key: String) async throws -> String {
        let reply = try await post("/api/v1/client/job/CreateTask", key: key, header: .xAPIKey, body)
        #expect(reply.status == 200 && reply.body["code"].int == 200 && reply.body["message"].string == "success", "\(reply.text)")
        return try #require(reply.body["data"]["task_id"].string, "\(reply.text)")
    }
}

@Suite("generation in toapis and crun, one task in every view, models as data")
struct DialectGenerationTests {
    @Test("every worked case of seed 002, sent in toapis's and crun's spelling, renders the video ffprobe confirms, read through that dialect's own view")
    func seedCasesInEveryDialect() async throws {
        try await withGateway(configure: { $0.renderConcurrency = 2; $0.defaultLimits.maxInFlight = 40 }) { gw in
            let key = try await gw.newKey()
            let image = try await activeAsset(gw, key: key, type: "Image", fixture: "good.png")
            let video = try await activeAsset(gw, key: key, type: "Video", fixture: "video.mov")
            var submitted: [(name: String, request: [String: Any], dialect: Dialect, id: String)] = []
            for (name, body) in GenerationTests.cases(gw, image: image, video: video) {
                let request = try DialectTranslation.object(body)
                submitted.append((name, request, .toapis, try await gw.generateToapis(try DialectTranslation.toapis(request), key: key)))
                submitted.append((name, request, .crun, try await gw.generateCrun(try DialectTranslation.crun(request), key: key)))
            }
            for (name, request, dialect, id) in submitted {
                let label = "\(name) (\(dialect.rawValue))"
                let duration = request["duration"] as? Int ?? 5
                let resolution = request["resolution"] as? String ?? "480p"
                let size = request["size"] as? String ?? "16:9"
                let url: String
                let lastFrame: J
                if dialect == .toapis {
                    let done = try await gw.poll("/v1/videos/generations/\(id)", key: key, limit: .seconds(180)) {
                        ["completed", "failed"].contains($0["status"].string ?? "")
                    }
                    try #require(done.body["status"].string == "completed", "\(label): \(done.text)")
                    #expect(done.body["metadata"]["resolution"].string == resolution && done.body["duration"].int == duration, "\(label)")
                    #expect(done.body["expires_at"].int != nil && done.body["completed_at"].int != nil, "\(label)")
                    url = try #require(done.body["result"]["video_url"].string, "\(label): \(done.text)")
                    lastFrame = done.body["result"]["last_frame_url"]
                } else {
                    let done = try await gw.poll("/api/v1/client/job/TaskInfo?task_id=\(id)", key: key, header: .xAPIKey, limit: .seconds(180)) {
                        ["success", "failed"].contains($0["data"]["status"].string ?? "")
                    }
                    let data = done.body["data"]
                    try #require(data["status"].string == "success", "\(label): \(done.text)")
                    #expect(data["param"]["input"]["resolution"].string == resolution && data["param"]["input"]["duration"].int == duration, "\(label)")
                    #expect(data["complete_at"].string != nil && data["duration_s"].int != nil, "\(label)")
                    url = try #require(data["result"]["media_urls"][0].string, "\(label): \(done.text)")
                    lastFrame = data["result"]["last_frame_url"]
                }
                let probed = try await ProbedVideo.probe(try await gw.download(url).body)
                let aspect: Double? = size == "adaptive" ? 800.0 / 600.0 : nil
                let expected = VideoRenderer.dimensions(resolution: resolution, size: size, adaptiveAspect: aspect)
                #expect(probed.width == expected.width && probed.height == expected.height, "\(label): \(probed.width)x\(probed.height)")
                #expect(abs(probed.duration - Double(duration)) < 0.05, "\(label): \(probed.duration) s")
                let wantsAudio = (request["generate_audio"] as? Bool ?? false) || request["audio_urls"] != nil
                #expect((probed.audioCodec == "aac") == wantsAudio, "\(label)")
                #expect(lastFrame.exists == (request["return_last_frame"] as? Bool == true), "\(label)")
            }
        }
    }

    @Test("a task made in any dialect is one task: every dialect's view reads it for its key, another key gets each dialect's 404")
    func oneTaskEveryView() async throws {
        try await withGateway { gw in
            let key = try await gw.newKey(), other = try await gw.newKey("other")
            let crunID = try await gw.generateCrun(#"{"model": "bytedance/seedance2-0-fast-i2v", "input": {"prompt": "p", "img_urls": ["\#(gw.url("good2.jpg"))", "\#(gw.url("good.png"))"], "duration": 4, "aspect_ratio": "auto"}}"#, key: key)
            let toapisID = try await gw.generateToapis(#"{"prompt": "a cat", "duration": 4, "metadata": {"seed": 7}}"#, key: key)
            let apimartID = try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "a dog", "duration": 4}"#, key: key)
            for id in [crunID, toapisID, apimartID] {
                let apimart = try await gw.finishedVideo(id, key: key)
                #expect(apimart.body["data"]["status"].string == "completed", "\(apimart.text)")
                let toapis = try await gw.get("/v1/videos/generations/\(id)", key: key)
                #expect(toapis.body["status"].string == "completed" && toapis.body["id"].string == id, "\(toapis.text)")
                let crun = try await gw.get("/api/v1/client/job/TaskInfo?task_id=\(id)", key: key, header: .xAPIKey)
                #expect(crun.body["data"]["status"].string == "success" && crun.body["data"]["task_id"].string == id, "\(crun.text)")

                let apimartOther = try await gw.get("/v1/tasks/\(id)", key: other)
                #expect(apimartOther.status == 404 && apimartOther.body["error"]["code"].exists, "\(apimartOther.text)")
                let toapisOther = try await gw.get("/v1/videos/generations/\(id)", key: other)
                #expect(toapisOther.status == 404 && toapisOther.body["success"].bool == false, "\(toapisOther.text)")
                let crunOther = try await gw.get("/api/v1/client/job/TaskInfo?task_id=\(id)", key: other, header: .xAPIKey)
                #expect(crunOther.status == 404 && crunOther.body["code"].int == 404, "\(crunOther.text)")
            }
            // Each dialect shows the request in its own spelling.
            let crun = try await gw.get("/api/v1/client/job/TaskInfo?task_id=\(crunID)", key: key, header: .xAPIKey).body["data"]
            #expect(crun["model_version"].string == "bytedance/seedance2-0-fast-i2v" && crun["param"]["input"]["aspect_ratio"].string == "auto")
            #expect(crun["param"]["input"]["img_urls"].array.count == 2)
            let asToapis = try await gw.get("/v1/videos/generations/\(crunID)", key: key).body
            #expect(asToapis["model"].string == "doubao-seedance-2-0-fast" && asToapis["aspect_ratio"].string == "adaptive")
            let toapis = try await gw.get("/v1/videos/generations/\(toapisID)", key: key).body
            #expect(toapis["metadata"]["seed"].int == 7 && toapis["model"].string == "doubao-seedance-2-0")
            let asCrun = try await gw.get("/api/v1/client/job/TaskInfo?task_id=\(toapisID)", key: key, header: .xAPIKey).body["data"]
            #expect(asCrun["model_version"].string == "bytedance/seedance2-0-t2v" && asCrun["param"]["input"]["seed"].int == 7)
            // The list and cancel of apimart serve every task.
            let list = try await gw.get("/v1/tasks", key: key)
            #expect(Set(list.body["data"]["items"].array.compactMap { $0["id"].string }) == [crunID, toapisID, apimartID])
        }
    }

    /// toapis bodies that break a rule, the field named, and a fragment of the rule.
    static let toapisInvalid: [(String, String, String)] = [
        (#"{"model": "doubao-seedance-2-0-pro", "prompt": "x"}"#, "model", "doubao-seedance-2-0, doubao-seedance-2-0-fast"),
        (#"{"model": "doubao-seedance-2-0"}"#, "prompt", "is required"),
        (#"{"prompt": "x", "duration": 16}"#, "duration", "4 to 15"),
        (#"{"prompt": "x", "aspect_ratio": "2:1"}"#, "aspect_ratio", "not a ratio"),
        (#"{"prompt": "x", "metadata": {"resolution": "4k"}}"#, "metadata.resolution", "not a resolution"),
        (#"{"model": "doubao-seedance-2-0-fast", "prompt": "x", "metadata": {"resolution": "1080p"}}"#, "metadata.resolution", "1080p is only available with doubao-seedance-2-0 and doubao-seedance-2-0-face"),
        (#"{"prompt": "x", "metadata": {"seed": -2}}"#, "metadata.seed", "-1 to 4294967295"),
        (#"{"prompt": "x", "metadata": {"generate_audio": "yes"}}"#, "metadata.generate_audio", "true or false"),
        (#"{"prompt": "x", "metadata": {"fps": 30}}"#, "metadata.fps", "unknown field"),
        (#"{"prompt": "x", "metadata": {"tools": [{"type": "code"}]}}"#, "metadata.tools[0].type", "only web_search"),
        (#"{"prompt": "x", "image_with_roles": [{"url": "https://example.com/a.png", "role": "middle"}]}"#, "image_with_roles[0].role", "not a role"),
        (#"{"prompt": "x", "image_with_roles": [{"url": "https://example.com/a.png", "role": "last_frame"}]}"#, "image_with_roles", "roles must be"),
        (#"{"prompt": "x", "image_with_roles": [\#(Array(repeating: #"{"url": "https://example.com/a.png", "role": "reference_image"}"#, count: 10).joined(separator: ","))]}"#, "image_with_roles", "at most 9"),
        (#"{"prompt": "x", "video_with_roles": [{"url": "https://example.com/v.mp4", "role": "reference_image"}]}"#, "video_with_roles[0].role", "use reference_video"),
        (#"{"prompt": "x", "video_with_roles": [\#(Array(repeating: #"{"url": "https://example.com/v.mp4"}"#, count: 4).joined(separator: ","))]}"#, "video_with_roles", "at most 3"),
        (#"{"prompt": "x", "audio_with_roles": [{"url": "https://example.com/a.wav", "role": "reference_audio"}]}"#, "audio_with_roles", "together with reference images or reference videos"),
        (#"{"prompt": "x", "image_with_roles": [{"url": "https://example.com/a.png", "role": "first_frame"}], "video_with_roles": [{"url": "https://example.com/v.mp4", "role": "reference_video"}]}"#, "video_with_roles", "first/last frame"),
        (#"{"prompt": "x", "video_with_roles": [{"url": "ftp://example.com/v.mp4", "role": "reference_video"}]}"#, "video_with_roles[0].url", "scheme"),
        (#"{"model": "doubao-seedance-2-0-face", "prompt": "x", "image_with_roles": [{"url": "asset://asset-1", "role": "reference_image"}]}"#, "image_with_roles[0].url", "only accepted by doubao-seedance-2-0 and doubao-seedance-2-0-fast"),
        (#"{"prompt": "x", "image_with_roles": [{"url": "asset://asset-20260318071009-abcde", "role": "reference_image"}]}"#, "image_with_roles[0].url", "does not exist"),
        (#"{"prompt": "x", "aspect_ratio": "16:9", "size": "16:9"}"#, "aspect_ratio", "mixes apimart's fields (size)"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "metadata": {}}"#, "metadata", "mixes apimart's fields (model 'doubao-seedance-2.0')"),
        (#"{"prompt": "x", "aspect_ratio": "16:9", "callback_url": "ftp://x/hook"}"#, "callback_url", "scheme"),
    ]

    /// The rows, each marked as toapis's by its model name where it names none (a body with nothing of
    /// toapis's is read as apimart's).
    static let toapisRows = toapisInvalid.map { row in
        row.0.contains(#""model""#) ? row : (row.0.replacingOccurrences(of: #"{"prompt""#, with: #"{"model": "doubao-seedance-2-0", "prompt""#), row.1, row.2)
    }

    @Test("toapis: every family of limit is refused with 400 in toapis's envelope, naming toapis's field; nothing is stored", arguments: toapisRows)
    func toapisLimits(_ row: (String, String, String)) async throws {
        try await withGateway { gw in
            let key = try await gw.newKey()
            let reply = try await gw.post("/v1/videos/generations", key: key, row.0)
            #expect(reply.status == 400, "\(reply.text)")
            #expect(reply.body["success"].bool == false && reply.body["data"].isNull, "\(reply.text)")
            #expect(reply.body["error"]["param"].string == row.1, "\(reply.text)")
            let message = reply.body["message"].string ?? ""
            #expect(message.hasPrefix(row.1) && message.contains(row.2), "\(reply.text)")
            #expect(try await gw.store.provider.read { try await $0.raw("SELECT COUNT(*) AS n FROM tasks").first()?.decode(column: "n", as: Int.self) } == 0)
        }
    }

    static let crunInvalid: [(String, String, String)] = [
        (#"{"input": {"prompt": "x"}}"#, "model", "is required"),
        (#"{"model": "bytedance/seedance2-0", "input": {"prompt": "x"}}"#, "model", "bytedance/seedance2-0-t2v, bytedance/seedance2-0-i2v"),
        (#"{"model": "bytedance/seedance2-0-t2v"}"#, "input", "is required"),
        (#"{"model": "bytedance/seedance2-0-t2v", "input": {}}"#, "input.prompt", "is required"),
        (#"{"model": "bytedance/seedance2-0-t2v", "input": {"prompt": "x", "img_urls": ["https://example.com/a.png"]}}"#, "input.img_urls", "unknown field"),
        (#"{"model": "bytedance/seedance2-0-t2v", "input": {"prompt": "x", "duration": 3}}"#, "input.duration", "4 to 15"),
        (#"{"model": "bytedance/seedance2-0-t2v", "input": {"prompt": "x", "aspect_ratio": "adaptive"}}"#, "input.aspect_ratio", "auto"),
        (#"{"model": "bytedance/seedance2-0-fast-t2v", "input": {"prompt": "x", "resolution": "1080p"}}"#, "input.resolution", "1080p is only available with bytedance/seedance2-0 and bytedance/seedance2-0-face"),
        (#"{"model": "bytedance/seedance2-0-t2v", "input": {"prompt": "x", "audio": "yes"}}"#, "input.audio", "true or false"),
        (#"{"model": "bytedance/seedance2-0-t2v", "input": {"prompt": "x", "seed": 4294967296}}"#, "input.seed", "-1 to 4294967295"),
        (#"{"model": "bytedance/seedance2-0-t2v", "input": {"prompt": "\#(GenerationTests.longPrompt)"}}"#, "input.prompt", "4001 characters"),
        (#"{"model": "bytedance/seedance2-0-i2v", "input": {"prompt": "x"}}"#, "input.img_urls", "is required"),
        (#"{"model": "bytedance/seedance2-0-i2v", "input": {"prompt": "x", "img_urls": ["https://e.com/1.png", "https://e.com/2.png", "https://e.com/3.png"]}}"#, "input.img_urls", "give 1 (the first frame) or 2"),
        (#"{"model": "bytedance/seedance2-0-i2v", "input": {"prompt": "x", "img_urls": ["data:image/png;base64,AAAA"]}}"#, "input.img_urls[0]", "base64"),
        (#"{"model": "bytedance/seedance2-0-r2v", "input": {"prompt": "x"}}"#, "input.reference_images", "at least one of"),
        (#"{"model": "bytedance/seedance2-0-r2v", "input": {"prompt": "x", "reference_images": [\#(Array(repeating: #""https://example.com/a.png""#, count: 10).joined(separator: ","))]}}"#, "input.reference_images", "at most 9"),
        (#"{"model": "bytedance/seedance2-0-r2v", "input": {"prompt": "x", "reference_videos": ["https://e.com/1.mp4", "https://e.com/2.mp4", "https://e.com/3.mp4", "https://e.com/4.mp4"]}}"#, "input.reference_videos", "at most 3"),
        (#"{"model": "bytedance/seedance2-0-r2v", "input": {"prompt": "x", "reference_audios": ["https://e.com/1.wav"]}}"#, "input.reference_audios", "together with reference images or reference videos"),
        (#"{"model": "bytedance/seedance2-0-face-r2v", "input": {"prompt": "x", "reference_images": ["asset://asset-1"]}}"#, "input.reference_images[0]", "only accepted by bytedance/seedance2-0 and bytedance/seedance2-0-fast"),
        (#"{"model": "bytedance/seedance2-0-r2v", "input": {"prompt": "x", "reference_videos": ["asset://asset-20260318071009-abcde"]}}"#, "input.reference_videos[0]", "does not exist"),
        (#"{"model": "bytedance/seedance2-0-t2v", "input": {"prompt": "x"}, "callback_url": "ftp://x/hook"}"#, "callback_url", "scheme"),
        (#"{"model": "bytedance/seedance2-0-t2v", "input": {"prompt": "x"}, "webhook": "x"}"#, "webhook", "unknown field"),
    ]

    @Test("crun: every family of limit is refused with 422 in crun's envelope, naming crun's field; nothing is stored", arguments: crunInvalid)
    func crunLimits(_ row: (String, String, String)) async throws {
        try await withGateway { gw in
            let key = try await gw.newKey()
            let reply = try await gw.post("/api/v1/client/job/CreateTask", key: key, header: .xAPIKey, row.0)
            #expect(reply.status == 422 && reply.body["code"].int == 422, "\(reply.text)")
            let message = reply.body["message"].string ?? ""
            #expect(message.hasPrefix(row.1) && message.contains(row.2), "\(reply.text)")
            #expect(try await gw.store.provider.read { try await $0.raw("SELECT COUNT(*) AS n FROM tasks").first()?.decode(column: "n", as: Int.self) } == 0)
        }
    }

    @Test("a webhook is rendered in the dialect its task was made in, for video and asset tasks alike")
    func webhooksInTheirDialect() async throws {
        let receiver = WebhookReceiver(failures: 0)
        try await receiver.start()
        try await withGateway { gw in
            let key = try await gw.newKey()
            let toapisVideo = try await gw.generateToapis(#"{"model": "doubao-seedance-2-0", "prompt": "a cat", "duration": 4, "callback_url": "\#(receiver.url)"}"#, key: key)
            let crunVideo = try await gw.generateCrun(#"{"model": "bytedance/seedance2-0-t2v", "callback_url": "\#(receiver.url)", "input": {"prompt": "a cat", "duration": 4}}"#, key: key)
            let toapisAsset = try await gw.post("/v1/videos/doubao-seedance-2-0/private-avatar/assets", key: key, #"{"group_id": "\#(try await toapisGroup(gw, key: key))", "asset_type": "image", "source_url": "\#(gw.url("good.png"))", "callback_url": "\#(receiver.url)"}"#)
            let toapisAssetID = try #require(toapisAsset.body["data"]["asset_id"].string, "\(toapisAsset.text)")
            let crunAsset = try await gw.post("/api/v1/client/job/asset-upload", key: key, header: .xAPIKey, #"{"name": "a", "asset_type": "Image", "asset_url": "\#(gw.url("good.png"))", "callback_url": "\#(receiver.url)"}"#)
            let crunAssetID = try #require(crunAsset.body["data"]["AssetId"].string, "\(crunAsset.text)")
            try await TestSupport.waitUntil("four webhooks arrived", limit: .seconds(90)) { receiver.requests.count >= 4 }
            let bodies = try receiver.requests.map { try DialectTranslation.object($0.body) }
            let toapisTask = try #require(bodies.first { $0["id"] as? String == toapisVideo })
            #expect(toapisTask["object"] as? String == "generation.task" && toapisTask["status"] as? String == "completed")
            let crunTask = try #require(bodies.first { $0["task_id"] as? String == crunVideo })
            #expect(crunTask["status"] as? String == "success" && (crunTask["result"] as? [String: Any])?["media_urls"] != nil)
            let toapisReview = try #require(bodies.first { ($0["data"] as? [String: Any])?["asset_id"] as? String == toapisAssetID })
            #expect(toapisReview["success"] as? Bool == true && (toapisReview["data"] as? [String: Any])?["status"] as? String == "active")
            let crunReview = try #require(bodies.first { $0["AssetId"] as? String == crunAssetID })
            #expect(crunReview["Status"] as? String == "Active")
        }
    }

    func toapisGroup(_ gw: Gateway, key: String) async throws -> String {
        let reply = try await gw.post("/v1/videos/doubao-seedance-2-0/private-avatar/groups", key: key, #"{"name": "g"}"#)
        return try #require(reply.body["data"]["group_id"].string, "\(reply.text)")
    }

    @Test("a model added by a models file is usable in all three dialects with its own limits and prices, and refused past them")
    func modelFromFile() async throws {
        let directory = TestSupport.temporaryDirectory()
        let file = "\(directory)/models.json"
        try Data(#"""
            {"models": [{"name": "doubao-seedance-2.5", "toapis": ["seedance-2-5"], "crun": ["bytedance/seedance2-5"],
              "resolutions": ["480p", "720p"], "durations": [4, 30], "max_images": 12, "assets": true, "real_people": false,
              "upstream": "doubao-seedance-2-5-260628", "prices": {"480p": 10, "720p": 20}}]}
            """#.utf8).write(to: URL(fileURLWithPath: file))
        try await withGateway(configure: { $0.modelsFile = file }) { gw in
            let key = try await gw.newKey(credits: 1000)
            let apimart = try await gw.generate(#"{"model": "doubao-seedance-2.5", "prompt": "long", "duration": 16}"#, key: key)
            let toapis = try await gw.generateToapis(#"{"model": "seedance-2-5", "prompt": "long", "duration": 16}"#, key: key)
            let crun = try await gw.generateCrun(#"{"model": "bytedance/seedance2-5-t2v", "input": {"prompt": "long", "duration": 16}}"#, key: key)
            for id in [apimart, toapis, crun] {
                let done = try await gw.finishedVideo(id, key: key, limit: .seconds(180))
                #expect(done.body["data"]["status"].string == "completed" && done.body["data"]["model"].string == "doubao-seedance-2.5", "\(done.text)")
                // 16 s at the file's 10 credits a second.
                #expect(done.body["data"]["cost"].int == 160, "\(done.text)")
                let url = try #require(done.body["data"]["result"]["videos"][0]["url"][0].string)
                #expect(abs(try await ProbedVideo.probe(try await gw.download(url).body).duration - 16) < 0.05)
            }
            let tooLong = try await gw.post("/v1/videos/generations", key: key, #"{"model": "doubao-seedance-2.5", "prompt": "x", "duration": 31}"#)
            #expect(tooLong.status == 400 && tooLong.body["error"]["message"].string?.contains("4 to 30") == true, "\(tooLong.text)")
            let noHD = try await gw.post("/api/v1/client/job/CreateTask", key: key, header: .xAPIKey, #"{"model": "bytedance/seedance2-5-t2v", "input": {"prompt": "x", "resolution": "1080p"}}"#)
            #expect(noHD.status == 422 && noHD.body["message"].string?.contains("not bytedance/seedance2-5") == true, "\(noHD.text)")
            // The built-in models keep their limits.
            let builtIn = try await gw.post("/v1/videos/generations", key: key, #"{"model": "doubao-seedance-2.0", "prompt": "x", "duration": 16}"#)
            #expect(builtIn.status == 400 && builtIn.body["error"]["message"].string?.contains("4 to 15") == true, "\(builtIn.text)")
        }
    }

    @Test("a models file that is malformed stops the server at start, naming the entry and field", arguments: [
        (#"{"models": {}}"#, "\"models\" array"),
        (#"{"models": [{"toapis": ["x"]}]}"#, "models[0].name is required"),
        (#"{"models": [{"name": "new-model", "resolutions": ["480p"]}]}"#, "durations is required"),
        (#"{"models": [{"name": "new-model", "resolutions": ["4k"], "durations": [4, 10]}]}"#, "resolutions must list"),
        (#"{"models": [{"name": "new-model", "resolutions": ["480p"], "durations": [10, 4]}]}"#, "durations must be [min, max]"),
        (#"{"models": [{"name": "new-model", "resolutions": ["480p"], "durations": [4, 10], "toapis": ["doubao-seedance-2-0"]}]}"#, "already doubao-seedance-2.0's"),
        (#"{"models": [{"name": "doubao-seedance-2.0", "fps": 30}]}"#, "models[0].fps is not a model field"),
        (#"{"models": [{"name": "doubao-seedance-2.0", "prices": {"480p": -1}}]}"#, "credits per second"),
    ])
    func malformedModelsFile(_ row: (String, String)) throws {
        let file = "\(TestSupport.temporaryDirectory())/models.json"
        try Data(row.0.utf8).write(to: URL(fileURLWithPath: file))
        let error = #expect(throws: ConfigurationError.self) { try ModelCatalog.builtIn.adding(file: file) }
        #expect(error?.description.contains(row.1) == true, "\(String(describing: error))")
    }

    @Test("a models file can change a built-in model: doubao-seedance-2.0-fast given 1080p takes it in every dialect")
    func changeBuiltIn() throws {
        let file = "\(TestSupport.temporaryDirectory())/models.json"
        try Data(#"{"models": [{"name": "doubao-seedance-2.0-fast", "resolutions": ["480p", "720p", "1080p"]}]}"#.utf8).write(to: URL(fileURLWithPath: file))
        let catalog = try ModelCatalog.builtIn.adding(file: file)
        let guardAll = URLGuard(allowPrivate: false)
        let apimart = try ApimartGenerationRequest.read(try JSONFields.parse(Data(#"{"model": "doubao-seedance-2.0-fast", "prompt": "x", "resolution": "1080p"}"#.utf8)), catalog: catalog, urlGuard: guardAll)
        let toapis = try ToapisGeneration.read(try JSONFields.parse(Data(#"{"model": "doubao-seedance-2-0-fast", "prompt": "x", "metadata": {"resolution": "1080p"}}"#.utf8)), catalog: catalog, urlGuard: guardAll)
        let crun = try CrunGeneration.read(try JSONFields.parse(Data(#"{"model": "bytedance/seedance2-0-fast-t2v", "input": {"prompt": "x", "resolution": "1080p"}}"#.utf8)), catalog: catalog, urlGuard: guardAll)
        #expect([apimart, toapis, crun].allSatisfy { $0.resolution == "1080p" && $0.model == .fast })
        #expect(throws: SeedgateError.self) {
            try ApimartGenerationRequest.read(try JSONFields.parse(Data(#"{"model": "doubao-seedance-2.0-fast", "prompt": "x", "resolution": "1080p"}"#.utf8)), catalog: .builtIn, urlGuard: guardAll)
        }
        // The other fields of the changed model stay as they were.
        #expect(catalog.spec(.fast)?.toapisNames == ModelCatalog.builtIn.spec(.fast)?.toapisNames && catalog.spec(.fast)?.durations == 4...15)
    }

    @Test("text holding the NUL character (\\u0000 in a body, %00 in a query) is refused by the field's name in each dialect's envelope, on both databases; nothing is stored",
          arguments: Backend.all)
    func nulRefused(_ backend: Backend) async throws {
        try await withGateway(backend: backend) { gw in
            let key = try await gw.newKey()
            let apimart = try await gw.post("/v1/videos/generations", key: key, #"{"model": "doubao-seedance-2.0", "prompt": "a\u0000b", "duration": 4}"#)
            #expect(apimart.status == 400 && apimart.body["error"]["param"].string == "prompt", "\(apimart.text)")
            let toapis = try await gw.post("/v1/videos/generations", key: key, #"{"model": "doubao-seedance-2-0", "prompt": "a\u0000cat", "duration": 4}"#)
            #expect(toapis.status == 400 && toapis.body["success"].bool == false && toapis.body["error"]["param"].string == "prompt", "\(toapis.text)")
            let ark = try await gw.post("/api/v3/contents/generations/tasks", key: key, #"{"model": "doubao-seedance-2-0-260128", "content": [{"type": "text", "text": "x\u0000"}]}"#)
            #expect(ark.status == 400 && ark.body["error"]["param"].string == "content[0].text", "\(ark.text)")
            let crun = try await gw.get("/api/v1/client/job/TaskInfo?task_id=vt_x%00", key: key, header: .xAPIKey)
            #expect(crun.status == 422 && crun.body["message"].string?.hasPrefix("task_id: must not contain the NUL character") == true, "\(crun.text)")
            let named = try await gw.get("/v1/tasks?status=completed&bad%00name=1", key: key)
            #expect(named.status == 400 && named.body["error"]["param"].string == "badname", "\(named.text)")
            let list = try await gw.get("/v1/tasks", key: key).body["data"]["items"]
            #expect(list.exists && list.array.isEmpty, "nothing was stored")
            // Below the API, on PostgreSQL: the database's own refusal of such text is a 400 too, not a 500.
            if backend == .postgres {
                do {
                    _ = try await gw.store.createKey(name: "a\u{0}b", credits: 1)
                    Issue.record("a name holding NUL was stored")
                } catch let error as SeedgateError {
                    #expect(error.kind == .invalidRequest && error.code == "invalid_text", "\(error)")
                }
            }
        }
    }
}
