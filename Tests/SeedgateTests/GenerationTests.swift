import Foundation
import HTTPTypes
import SeedgateApp
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport
import Testing

/// Uploads an asset through crun and waits for it to be Active; returns its id.
func activeAsset(_ gw: Gateway, key: String, type: String, fixture: String) async throws -> String {
    let reply = try await gw.post("/api/v1/client/job/asset-upload", key: key, #"{"name": "a", "asset_type": "\#(type)", "asset_url": "\#(gw.url(fixture))"}"#)
    let id = try #require(reply.body["data"]["AssetId"].string)
    let done = try await gw.poll("/api/v1/client/job/asset-info?asset_id=\(id)", key: key) { $0["data"]["Status"].string != "Processing" }
    #expect(done.body["data"]["Status"].string == "Active")
    return id
}

@Suite("video generation (seed 002)")
struct GenerationTests {
    /// Seed 002's worked cases 1-13, with its URLs replaced by served fixtures and asset_a by real
    /// Active assets of the slot's type, plus an adaptive-size case.
    static func cases(_ gw: Gateway, image: String, video: String) -> [(name: String, body: String)] {
        let img = gw.url("good2.jpg"), img2 = gw.url("good.png"), mp4 = gw.url("video.mp4"), wav = gw.url("audio.wav"), mp3 = gw.url("audio.mp3")
        return [
            ("1 text-to-video", #"{"model": "doubao-seedance-2.0", "prompt": "A kitten yawning at the camera", "resolution": "720p", "size": "16:9", "duration": 5, "seed": 42, "generate_audio": true}"#),
            ("2 image-to-video", #"{"model": "doubao-seedance-2.0", "prompt": "The kitten stands up and walks toward the camera", "image_urls": ["\#(img)"], "duration": 5}"#),
            ("3 first/last frame", #"{"model": "doubao-seedance-2.0", "prompt": "Transition from day to night", "image_with_roles": [{"url": "\#(img)", "role": "first_frame"}, {"url": "\#(img2)", "role": "last_frame"}], "duration": 5}"#),
            ("4 video reference", #"{"model": "doubao-seedance-2.0", "prompt": "Convert the video style to anime style", "video_urls": ["\#(mp4)"]}"#),
            ("5 video + audio reference", #"{"model": "doubao-seedance-2.0", "prompt": "A scene of a person speaking", "video_urls": ["\#(mp4)"], "audio_urls": ["\#(wav)"], "size": "16:9", "duration": 11}"#),
            ("6 audio-enabled", #"{"model": "doubao-seedance-2.0", "prompt": "A man stops a woman and says: \"Remember, you must never point your finger at the moon.\"", "generate_audio": true}"#),
            ("7 continuous (last frame)", #"{"model": "doubao-seedance-2.0", "prompt": "The kitten continues walking toward the camera", "image_urls": ["\#(img2)"], "return_last_frame": true}"#),
            ("8 fast 21:9", #"{"model": "doubao-seedance-2.0-fast", "prompt": "City nightscape timelapse photography", "size": "21:9", "duration": 8}"#),
            ("9 multi-modal", #"{"model": "doubao-seedance-2.0", "prompt": "Use video 1's first-person perspective throughout, and use audio 1 as the background music throughout. 100% fresh.", "image_urls": ["\#(img)", "\#(img2)"], "video_urls": ["\#(mp4)"], "audio_urls": ["\#(mp3)"], "generate_audio": true, "size": "16:9", "duration": 11}"#),
            ("10 asset image", #"{"model": "doubao-seedance-2.0", "prompt": "The character walks naturally on a city street under bright sunshine", "image_urls": ["asset://\#(image)"], "duration": 5, "resolution": "720p"}"#),
            ("11 asset reference portrait", #"{"model": "doubao-seedance-2.0", "prompt": "Using the reference portrait, the character walks elegantly toward the camera", "image_with_roles": [{"url": "asset://\#(image)", "role": "reference_image"}], "resolution": "720p", "duration": 5}"#),
            ("12 fast + asset", #"{"model": "doubao-seedance-2.0-fast", "prompt": "The character strolls in a park with a gentle breeze", "image_urls": ["asset://\#(image)"], "duration": 5, "resolution": "720p"}"#),
            ("13 motion transfer", #"{"model": "doubao-seedance-2.0", "prompt": "The character dances to the rhythm of the reference video", "image_urls": ["\#(img)", "asset://\#(image)"], "video_urls": ["\#(mp4)", "asset://\#(video)"], "duration": 8, "resolution": "720p"}"#),
            ("adaptive 4:3 image", #"{"model": "doubao-seedance-2.0-face", "prompt": "adaptive", "image_urls": ["\#(img)"], "size": "adaptive", "resolution": "1080p", "duration": 4, "return_last_frame": true}"#),
        ]
    }

    @Test("every worked case of seed 002 renders a video whose duration, size, frame rate, audio and last frame ffprobe confirms")
    func seedCases() async throws {
        try await withGateway(configure: { $0.renderConcurrency = 2 }) { gw in
            let key = try await gw.newKey()
            let image = try await activeAsset(gw, key: key, type: "Image", fixture: "good.png")
            let video = try await activeAsset(gw, key: key, type: "Video", fixture: "video.mov")
            var submitted: [(String, [String: Any], String)] = []
            for (name, body) in Self.cases(gw, image: image, video: video) {
                let request = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
                submitted.append((name, request, try await gw.generate(body, key: key)))
            }
            for (name, request, id) in submitted {
                let done = try await gw.finishedVideo(id, key: key)
                let data = done.body["data"]
                try #require(data["status"].string == "completed", "\(name): \(done.text)")
                let duration = request["duration"] as? Int ?? 5
                let resolution = request["resolution"] as? String ?? "480p"
                let size = request["size"] as? String ?? "16:9"
                #expect(data["duration"].int == duration && data["resolution"].string == resolution && data["size"].string == size)
                if let seed = request["seed"] as? Int { #expect(data["seed"].int == seed) } else { #expect(data["seed"].int != nil) }
                let url = try #require(data["result"]["videos"][0]["url"][0].string)
                let file = try await gw.download(url)
                #expect(file.status == 200)
                let probed = try await ProbedVideo.probe(file.body)
                let aspect: Double? = size == "adaptive" ? 800.0 / 600.0 : nil
                let expected = VideoRenderer.dimensions(resolution: resolution, size: size, adaptiveAspect: aspect)
                #expect(probed.width == expected.width && probed.height == expected.height, "\(name): \(probed.width)x\(probed.height)")
                #expect(abs(probed.duration - Double(duration)) < 0.05, "\(name): \(probed.duration) s")
                #expect(probed.fps == 24 && probed.videoCodec == "h264" && probed.pixelFormat == "yuv420p", "\(name)")
                let wantsAudio = (request["generate_audio"] as? Bool ?? false) || request["audio_urls"] != nil
                #expect((probed.audioCodec == "aac") == wantsAudio, "\(name): audio \(String(describing: probed.audioCodec))")
                if wantsAudio { #expect(abs((probed.audioDuration ?? 0) - Double(duration)) < 0.1, "\(name): audio \(String(describing: probed.audioDuration))") }
                if request["return_last_frame"] as? Bool == true {
                    let frameURL = try #require(data["result"]["last_frame_url"].string, "\(name)")
                    let frame = try await gw.download(frameURL)
                    #expect(frame.headers[.contentType] == "image/png")
                    #expect(frame.body.starts(with: [0x89, 0x50, 0x4E, 0x47]))
                } else {
                    #expect(!data["result"]["last_frame_url"].exists)
                }
            }
        }
    }

    @Test("animated images: a GIF that plays once and an animated PNG still give videos of the asked length, in every kind of render that takes an image")
    func animatedImages() async throws {
        try await withGateway(configure: { $0.renderConcurrency = 2 }) { gw in
            let key = try await gw.newKey()
            let gif = gw.url("once.gif"), apng = gw.url("anim.png"), mp4 = gw.url("video.mp4")
            let cases: [(name: String, duration: Int, body: String)] = [
                ("GIF panned", 5, #"{"model": "doubao-seedance-2.0", "prompt": "gif", "image_urls": ["\#(gif)"], "duration": 5}"#),
                ("APNG panned", 4, #"{"model": "doubao-seedance-2.0", "prompt": "apng", "image_urls": ["\#(apng)"], "duration": 4}"#),
                ("APNG to GIF", 6, #"{"model": "doubao-seedance-2.0", "prompt": "frames", "image_with_roles": [{"url": "\#(apng)", "role": "first_frame"}, {"url": "\#(gif)", "role": "last_frame"}], "duration": 6, "return_last_frame": true}"#),
                ("GIF inset", 5, #"{"model": "doubao-seedance-2.0", "prompt": "inset", "video_urls": ["\#(mp4)"], "image_urls": ["\#(gif)"], "duration": 5}"#),
            ]
            var submitted: [(name: String, duration: Int, id: String)] = []
            for c in cases { submitted.append((c.name, c.duration, try await gw.generate(c.body, key: key))) }
            for (name, duration, id) in submitted {
                let done = try await gw.finishedVideo(id, key: key)
                try #require(done.body["data"]["status"].string == "completed", "\(name): \(done.text)")
                let url = try #require(done.body["data"]["result"]["videos"][0]["url"][0].string)
                let probed = try await ProbedVideo.probe(try await gw.download(url).body)
                #expect(abs(probed.duration - Double(duration)) < 0.05 && probed.fps == 24, "\(name): \(probed.duration) s at \(probed.fps) fps")
            }
        }
    }

    static let longPrompt = String(repeating: "猫", count: 4001)
    /// Each limit, the field it names, and a fragment of the rule.
    static let invalid: [(String, String, String)] = [
        (#"{"prompt": "x"}"#, "model", "is required"),
        (#"{"model": "doubao-seedance-1.5-pro", "prompt": "x"}"#, "model", "not a model"),
        (#"{"model": "doubao-seedance-2.0"}"#, "prompt", "is required"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "\#(longPrompt)"}"#, "prompt", "4001 characters"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "duration": 3}"#, "duration", "4 to 15"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "duration": 16}"#, "duration", "4 to 15"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "duration": -1}"#, "duration", "4 to 15"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "duration": "5"}"#, "duration", "must be an integer"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "duration": 5.5}"#, "duration", "must be an integer"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "size": "2:1"}"#, "size", "not a size"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "resolution": "4k"}"#, "resolution", "not a resolution"),
        (#"{"model": "doubao-seedance-2.0-fast", "prompt": "x", "resolution": "1080p"}"#, "resolution", "1080p is only available"),
        (#"{"model": "doubao-seedance-2.0-fast-face", "prompt": "x", "resolution": "1080p"}"#, "resolution", "1080p is only available"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "seed": -2}"#, "seed", "-1 to 4294967295"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "seed": 4294967296}"#, "seed", "-1 to 4294967295"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "generate_audio": "yes"}"#, "generate_audio", "true or false"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "return_last_frame": 1}"#, "return_last_frame", "true or false"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "watermark": "no"}"#, "watermark", "true or false"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "tools": [{"type": "code_interpreter"}]}"#, "tools[0].type", "only web_search"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "tools": "web_search"}"#, "tools", "must be an array"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "image_urls": [\#(Array(repeating: #""https://example.com/a.png""#, count: 10).joined(separator: ","))]}"#, "image_urls", "at most 9"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "image_urls": ["https://example.com/a.png"], "image_with_roles": [{"url": "https://example.com/a.png", "role": "first_frame"}]}"#, "image_with_roles", "cannot be used together"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "image_with_roles": [{"url": "https://example.com/a.png", "role": "middle_frame"}]}"#, "image_with_roles[0].role", "not a role"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "image_with_roles": [{"url": "https://example.com/a.png", "role": "last_frame"}]}"#, "image_with_roles", "roles must be"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "image_with_roles": [{"url": "https://example.com/a.png", "role": "first_frame"}, {"url": "https://example.com/b.png", "role": "first_frame"}]}"#, "image_with_roles", "roles must be"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "image_with_roles": [{"url": "https://example.com/a.png", "role": "first_frame"}, {"url": "https://example.com/b.png", "role": "reference_image"}]}"#, "image_with_roles", "roles must be"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "image_with_roles": [\#(Array(repeating: #"{"url": "https://example.com/a.png", "role": "reference_image"}"#, count: 10).joined(separator: ","))]}"#, "image_with_roles", "at most 9"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "image_with_roles": [{"url": "https://example.com/a.png", "role": "first_frame"}], "video_urls": ["https://example.com/v.mp4"]}"#, "video_urls", "first/last frame"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "image_with_roles": [{"url": "https://example.com/a.png", "role": "first_frame"}, {"url": "https://example.com/b.png", "role": "last_frame"}], "audio_urls": ["https://example.com/a.wav"]}"#, "audio_urls", "first/last frame"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "video_urls": ["https://example.com/1.mp4", "https://example.com/2.mp4", "https://example.com/3.mp4", "https://example.com/4.mp4"]}"#, "video_urls", "at most 3"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "video_urls": ["https://example.com/1.mp4"], "audio_urls": ["https://e.com/1.wav", "https://e.com/2.wav", "https://e.com/3.wav", "https://e.com/4.wav"]}"#, "audio_urls", "at most 3"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "audio_urls": ["https://example.com/a.wav"]}"#, "audio_urls", "together with reference images or reference videos"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "image_urls": ["data:image/png;base64,AAAA"]}"#, "image_urls[0]", "base64"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "video_urls": ["ftp://example.com/v.mp4"]}"#, "video_urls[0]", "scheme"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "image_urls": ["asset://"]}"#, "image_urls[0]", "not a valid asset URL"),
        (#"{"model": "doubao-seedance-2.0-face", "prompt": "x", "image_urls": ["asset://asset-20260318071009-abcde"]}"#, "image_urls[0]", "only accepted by doubao-seedance-2.0 and doubao-seedance-2.0-fast"),
        (#"{"model": "doubao-seedance-2.0-fast-face", "prompt": "x", "video_urls": ["asset://asset-20260318071009-abcde"]}"#, "video_urls[0]", "only accepted by"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "image_urls": ["asset://asset-20260318071009-abcde"]}"#, "image_urls[0]", "does not exist"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "durations": 5}"#, "durations", "unknown field"),
        (#"{"model": "doubao-seedance-2.0", "prompt": "x", "callback_url": "ftp://example.com/hook"}"#, "callback_url", "scheme"),
    ]

    /// One row of each family of `invalid` goes through the real router; `GenerationRuleTests` holds the
    /// whole table to the pure rules.
    static let invalidThroughRouter = invalid.filter { row in
        ["model", "duration", "image_with_roles", "video_urls[0]", "image_urls[0]", "durations", "tools[0].type", "callback_url"].contains(row.1)
    }.reduce(into: [(String, String, String)]()) { rows, row in
        if !rows.contains(where: { $0.1 == row.1 }) || row.2 == "does not exist" { rows.append(row) }
    }

    @Test("a limit of each family is refused with 400 naming the field, and a refused request stores nothing", arguments: invalidThroughRouter)
    func limits(_ row: (String, String, String)) async throws {
        try await withGateway { gw in
            let key = try await gw.newKey()
            let reply = try await gw.post("/v1/videos/generations", key: key, row.0)
            #expect(reply.status == 400, "\(reply.text)")
            #expect(reply.body["error"]["param"].string == row.1, "\(reply.text)")
            #expect(reply.body["error"]["message"].string?.hasPrefix(row.1) == true, "\(reply.text)")
            #expect(reply.body["error"]["message"].string?.contains(row.2) == true, "\(reply.text)")
            let stored = try await gw.store.provider.read { db in
                try await db.raw("SELECT COUNT(*) AS n FROM tasks").first()?.decode(column: "n", as: Int.self)
            }
            #expect(stored == 0)
        }
    }

    @Test("4000 Chinese characters are allowed: the limit counts characters, not bytes")
    func promptCountsCharacters() async throws {
        try await withGateway { gw in
            let key = try await gw.newKey()
            _ = try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "\#(String(repeating: "猫", count: 4000))", "duration": 4}"#, key: key)
        }
    }

    @Test("asset inputs must be the key's own, Active, and of the slot's type")
    func assetInputs() async throws {
        try await withGateway { gw in
            let key = try await gw.newKey()
            let other = try await gw.newKey("other")
            let image = try await activeAsset(gw, key: key, type: "Image", fixture: "good.png")
            let cases: [(String, String, String)] = [
                (#"{"model": "doubao-seedance-2.0", "prompt": "x", "video_urls": ["asset://\#(image)"]}"#, "video_urls[0]", "asset_type_mismatch"),
                (#"{"model": "doubao-seedance-2.0", "prompt": "x", "video_urls": ["\#(gw.url("video.mp4"))"], "audio_urls": ["asset://\#(image)"]}"#, "audio_urls[0]", "asset_type_mismatch"),
            ]
            for (body, param, code) in cases {
                let reply = try await gw.post("/v1/videos/generations", key: key, body)
                #expect(reply.status == 400 && reply.body["error"]["param"].string == param && reply.body["error"]["code"].string == code, "\(reply.text)")
            }
            let foreign = try await gw.post("/v1/videos/generations", key: other, #"{"model": "doubao-seedance-2.0", "prompt": "x", "image_urls": ["asset://\#(image)"]}"#)
            #expect(foreign.status == 400 && foreign.body["error"]["code"].string == "asset_not_found", "\(foreign.text)")
            // An asset still in review cannot be used yet.
            let slow = try await gw.post("/api/v1/client/job/asset-upload", key: key, #"{"name": "s", "asset_type": "Image", "asset_url": "\#(gw.fixtures)/slow/good.png"}"#)
            let pending = try #require(slow.body["data"]["AssetId"].string)
            let early = try await gw.post("/v1/videos/generations", key: key, #"{"model": "doubao-seedance-2.0", "prompt": "x", "image_urls": ["asset://\#(pending)"]}"#)
            #expect(early.status == 400 && early.body["error"]["code"].string == "asset_not_active", "\(early.text)")
        }
    }

    @Test("media limits checked at fetch time fail the task with the field and the rule")
    func fetchTimeLimits() async throws {
        try await withGateway(configure: { $0.renderConcurrency = 2 }) { gw in
            let key = try await gw.newKey()
            let six = gw.url("video-6s.mp4")
            let cases: [(String, String, String)] = [
                (#"{"model": "doubao-seedance-2.0", "prompt": "x", "video_urls": ["\#(six)", "\#(six)", "\#(six)"]}"#, "reference_duration_exceeded", "video_urls: reference videos total 18 s"),
                (#"{"model": "doubao-seedance-2.0", "prompt": "x", "video_urls": ["\#(gw.url("video-small.mp4"))"]}"#, "resolution_out_of_range", "video_urls[0]: video is 400x300"),
                (#"{"model": "doubao-seedance-2.0", "prompt": "x", "video_urls": ["\#(gw.url("video.mp4"))"], "audio_urls": ["\#(gw.url("audio-long.wav"))"]}"#, "duration_out_of_range", "audio_urls[0]: audio is 20 s long"),
                (#"{"model": "doubao-seedance-2.0", "prompt": "x", "image_urls": ["\#(gw.url("small.png"))"]}"#, "dimensions_out_of_range", "image_urls[0]: image is 200x200"),
                (#"{"model": "doubao-seedance-2.0", "prompt": "x", "image_urls": ["\#(gw.url("video.mp4"))"]}"#, "asset_type_mismatch", "image_urls[0]: asset_type is Image"),
                (#"{"model": "doubao-seedance-2.0", "prompt": "x", "image_urls": ["\#(gw.fixtures)/missing"]}"#, "fetch_failed", "image_urls[0]: fetching"),
            ]
            var ids: [(String, String, String)] = []
            for (body, code, message) in cases { ids.append((try await gw.generate(body, key: key), code, message)) }
            for (id, code, message) in ids {
                let done = try await gw.finishedVideo(id, key: key)
                #expect(done.body["data"]["status"].string == "failed")
                #expect(done.body["data"]["error"]["code"].string == code, "\(done.text)")
                #expect(done.body["data"]["error"]["message"].string?.hasPrefix(message) == true, "\(done.text)")
                #expect(!done.body["data"]["result"].exists)
            }
        }
    }

    @Test("the same request and seed give the same pixels; another seed does not")
    func deterministic() async throws {
        try await withGateway(configure: { $0.renderConcurrency = 2 }) { gw in
            let key = try await gw.newKey()
            let body = #"{"model": "doubao-seedance-2.0", "prompt": "same", "seed": 7, "duration": 4}"#
            let ids = [try await gw.generate(body, key: key), try await gw.generate(body, key: key),
                       try await gw.generate(body.replacingOccurrences(of: "\"seed\": 7", with: "\"seed\": 8"), key: key)]
            var hashes: [String] = []
            for id in ids {
                let done = try await gw.finishedVideo(id, key: key)
                let file = try await gw.download(try #require(done.body["data"]["result"]["videos"][0]["url"][0].string))
                hashes.append(try await ProbedVideo.frameHash(file.body))
            }
            #expect(hashes[0] == hashes[1])
            #expect(hashes[0] != hashes[2])
        }
    }

    @Test("progress moves while rendering; cancel stops pending and running tasks, not finished ones")
    func progressAndCancel() async throws {
        try await withGateway { gw in
            let key = try await gw.newKey()
            // The longest render there is (15 s at 1080p) takes about 3 s here; on a machine loaded enough
            // it can finish between the look at its progress and the cancel (a 409, it is done). Then the
            // race is run again with a new pair, up to three times; the assertions hold for the last.
            var long = "", cancelledLong: Reply
            var attempts = 0
            repeat {
                attempts += 1
                long = try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "long", "duration": 15, "resolution": "1080p"}"#, key: key)
                let queued = try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "queued", "duration": 4}"#, key: key)
                let midway = try await gw.poll("/v1/tasks/\(long)", key: key) { ($0["data"]["progress"].int ?? 0) > 5 }
                #expect(midway.body["data"]["status"].string == "processing")
                #expect((6...99).contains(midway.body["data"]["progress"].int ?? 0), "\(midway.text)")
                #expect(try await gw.get("/v1/tasks/\(queued)", key: key).body["data"]["status"].string == "pending")

                let cancelledQueued = try await gw.post("/v1/tasks/\(queued)/cancel", key: key, "")
                #expect(cancelledQueued.status == 200 && cancelledQueued.body["data"]["status"].string == "cancelled")
                cancelledLong = try await gw.post("/v1/tasks/\(long)/cancel", key: key, "")
            } while cancelledLong.status == 409 && attempts < 3
            let cancelled = long
            #expect(cancelledLong.body["data"]["status"].string == "cancelled")
            #expect(cancelledLong.body["data"]["error"]["code"].string == "cancelled")
            // The render stops at its next progress report (its scratch directory goes) and nothing is kept.
            try await TestSupport.waitUntil("the cancelled render stopped") {
                let scratch = (try? FileManager.default.contentsOfDirectory(atPath: "\(gw.dataDirectory)/tmp")) ?? []
                return !scratch.contains { $0.hasPrefix("render-\(cancelled)") }
            }
            let later = try await gw.get("/v1/tasks/\(cancelled)", key: key)
            #expect(later.body["data"]["status"].string == "cancelled")
            #expect(!FileManager.default.fileExists(atPath: "\(gw.dataDirectory)/blobs/videos/\(cancelled).mp4"))

            let again = try await gw.post("/v1/tasks/\(cancelled)/cancel", key: key, "")
            #expect(again.status == 409 && again.body["error"]["code"].string == "task_not_cancellable")
            let other = try await gw.newKey("other")
            #expect(try await gw.post("/v1/tasks/\(cancelled)/cancel", key: other, "").status == 404)
        }
    }

    @Test("GET /v1/tasks lists the key's tasks newest first, in pages, by status", arguments: Backend.all)
    func listing(_ backend: Backend) async throws {
        try await withGateway(backend: backend) { gw in
            let key = try await gw.newKey()
            var ids: [String] = []
            for n in 0..<3 { ids.append(try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "n\#(n)", "duration": 4}"#, key: key)) }
            _ = try await gw.post("/v1/tasks/\(ids[2])/cancel", key: key, "")
            let first = try await gw.get("/v1/tasks?limit=2", key: key)
            #expect(first.body["data"]["items"].array.compactMap { $0["id"].string } == [ids[2], ids[1]])
            #expect(first.body["data"]["has_more"].bool == true)
            let cursor = try #require(first.body["data"]["next_cursor"].string)
            let second = try await gw.get("/v1/tasks?limit=2&cursor=\(cursor)", key: key)
            #expect(second.body["data"]["items"].array.compactMap { $0["id"].string } == [ids[0]])
            #expect(second.body["data"]["has_more"].bool == false)
            let cancelled = try await gw.get("/v1/tasks?status=cancelled", key: key)
            #expect(cancelled.body["data"]["items"].array.compactMap { $0["id"].string } == [ids[2]])
            #expect(try await gw.get("/v1/tasks?status=done", key: key).body["error"]["param"].string == "status")
            #expect(try await gw.get("/v1/tasks?limit=0", key: key).body["error"]["param"].string == "limit")
            let other = try await gw.newKey("other")
            #expect(try await gw.get("/v1/tasks", key: other).body["data"]["items"].array.isEmpty)
            #expect(try await gw.get("/v1/tasks/\(ids[0])", key: other).status == 404)
        }
    }

    @Test("Idempotency-Key: the same body returns the first task; another body is refused with 409", arguments: Backend.all)
    func idempotency(_ backend: Backend) async throws {
        try await withGateway(backend: backend) { gw in
            let key = try await gw.newKey()
            let body = #"{"model": "doubao-seedance-2.0", "prompt": "once", "duration": 4}"#
            let first = try await gw.generate(body, key: key, idempotencyKey: "order-17")
            let second = try await gw.generate(body, key: key, idempotencyKey: "order-17")
            #expect(first == second)
            let other = try await gw.newKey("other")
            let otherKeys = try await gw.generate(body, key: other, idempotencyKey: "order-17")
            #expect(otherKeys != first)
            var headers: HTTPFields = [.authorization: "Bearer \(key)", .contentType: "application/json"]
            headers[HTTPField.Name("Idempotency-Key")!] = "order-17"
            let conflict = try await gw.client.execute(uri: "/v1/videos/generations", method: .post, headers: headers,
                                                       body: .init(string: body.replacingOccurrences(of: "once", with: "twice")))
            #expect(conflict.status == .conflict)
            #expect(String(buffer: conflict.body).contains("idempotency_key_reused"))
            let third = try await gw.generate(body, key: key)
            #expect(third != first)
            let count = try await gw.store.provider.read { db in
                try await db.raw("SELECT COUNT(*) AS n FROM tasks WHERE kind = 'video'").first()?.decode(column: "n", as: Int.self)
            }
            #expect(count == 3)
        }
    }

    @Test("an installation upgraded from a signing.key file keeps its links: the store adopts that key")
    func legacySigningKey() async throws {
        let directory = TestSupport.temporaryDirectory()
        let legacy = Data((0..<32).map { UInt8($0 * 7 % 256) })
        try legacy.write(to: URL(fileURLWithPath: "\(directory)/signing.key"))
        try await withGateway(dataDirectory: directory) { gw in
            // A link the old version signed: the signature checks (404: no such file), not 403.
            let old = URLSigner(secret: legacy, baseURL: "http://x").url(for: "videos/task_gone.mp4", expires: Date().addingTimeInterval(600))
            let oldStatus = try await gw.download(old).status
            #expect(oldStatus == 404)
            let forged = URLSigner(secret: Data(repeating: 1, count: 32), baseURL: "http://x").url(for: "videos/task_gone.mp4", expires: Date().addingTimeInterval(600))
            let forgedStatus = try await gw.download(forged).status
            #expect(forgedStatus == 403)
        }
    }

    @Test("result links: Range requests, content types, 403 when tampered or expired, 404 after retention")
    func resultLinks() async throws {
        let directory = TestSupport.temporaryDirectory()
        try await withGateway(dataDirectory: directory) { gw in
            let key = try await gw.newKey()
            let id = try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "links", "duration": 4, "return_last_frame": true}"#, key: key)
            let done = try await gw.finishedVideo(id, key: key)
            let url = try #require(done.body["data"]["result"]["videos"][0]["url"][0].string)
            let expiresAt = try #require(done.body["data"]["result"]["videos"][0]["expires_at"].int)
            #expect(abs(expiresAt - Int(Date().timeIntervalSince1970) - 24 * 3600) < 60)

            let whole = try await gw.download(url)
            #expect(whole.status == 200 && whole.headers[.contentType] == "video/mp4" && whole.headers[.acceptRanges] == "bytes")
            let part = try await gw.download(url, headers: [.range: "bytes=0-99"])
            #expect(part.status == 206 && part.body == whole.body.prefix(100))
            #expect(part.headers[.contentRange] == "bytes 0-99/\(whole.body.count)")
            let tail = try await gw.download(url, headers: [.range: "bytes=-10"])
            #expect(tail.status == 206 && tail.body == whole.body.suffix(10))
            let open = try await gw.download(url, headers: [.range: "bytes=\(whole.body.count - 5)-"])
            #expect(open.body == whole.body.suffix(5))
            let unsatisfiable = try await gw.download(url, headers: [.range: "bytes=\(whole.body.count)-"])
            #expect(unsatisfiable.status == 416)
            let head = try await gw.download(url, method: .head)
            #expect(head.status == 200 && head.headers[.contentLength] == String(whole.body.count) && head.body.isEmpty)

            let tampered = url.replacingOccurrences(of: "sig=", with: "sig=0")
            #expect(try await gw.download(tampered).status == 403)
            let otherFile = url.replacingOccurrences(of: "videos/\(id).mp4", with: "frames/\(id).png")
            #expect(try await gw.download(otherFile).status == 403)
            let secret = try await URLSigner.loadSecret(from: gw.store)
            let expired = URLSigner(secret: secret, baseURL: "http://x").url(for: "videos/\(id).mp4", expires: Date().addingTimeInterval(-1))
            #expect(try await gw.download(expired).status == 403)
            let later = URLSigner(secret: secret, baseURL: "http://x").url(for: "videos/\(id).mp4", expires: Date().addingTimeInterval(60))
            #expect(try await gw.download(later).status == 200)

            // Past retention the files are deleted; the task says so and old links find nothing.
            let sweeper = RetentionSweeper(store: gw.store, blobs: try LocalBlobStore(root: "\(directory)/blobs"), retention: .seconds(3600), logger: TestSupport.logger)
            try await sweeper.sweep(now: Date().addingTimeInterval(7200))
            #expect(try await gw.download(later).status == 404)
            let purged = try await gw.get("/v1/tasks/\(id)", key: key)
            #expect(purged.body["data"]["result"]["videos"].array.isEmpty)
            #expect(purged.body["data"]["status"].string == "completed")
        }
    }

    @Test("a render interrupted by a crash is done again by the next server")
    func survivesCrash() async throws {
        let directory = TestSupport.temporaryDirectory()
        let provider = try await TestSupport.openSQLite(in: directory)
        let store = SQLStore(provider: provider)
        try await store.migrate()
        let (key, secret, _) = try await store.createKey(name: "crash")
        let request = try TestSupport.generationRequest(#"{"model": "doubao-seedance-2.0", "prompt": "again", "duration": 4}"#, allowPrivate: true)
        let (task, _) = try await store.insertVideoTask(keyID: key.id, request: request, seed: 5, idempotency: nil)
        #expect(try await store.claimVideoTask(owner: "server-that-died", lease: .seconds(0))?.id == task.id)
        await provider.close()
        try await Task.sleep(for: .milliseconds(20))
        try await withGateway(dataDirectory: directory) { gw in
            let done = try await gw.finishedVideo(task.id, key: secret)
            #expect(done.body["data"]["status"].string == "completed")
            #expect(done.body["data"]["seed"].int == 5)
        }
    }
}
