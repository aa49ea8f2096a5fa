import Foundation

/// Our generation request in Ark's words (upstream.md section 1): `content[]` plus body parameters.
/// Parameters are always sent explicitly, `generate_audio` above all: Ark's default differs from ours.
enum ArkGeneration {
    /// Ark's `execution_expires_after` range, in seconds.
    static let expiryRange = 3600...259_200

    /// `assets` maps our asset ids to the upstream ids bound on the target channel.
    static func body(
        for task: VideoTask, upstreamModel: String, assets: [String: String], callbackURL: String?, expiresAfter: Int
    ) -> JSONOut {
        let request = task.request
        func url(_ input: MediaInput) -> String {
            guard let id = input.assetID else { return input.url }
            return "asset://\(assets[id] ?? id)"
        }
        var content: [JSONOut] = []
        if let prompt = request.prompt { content.append(.obj(["type": "text", "text": .string(prompt)])) }
        for image in request.images {
            content.append(.obj([
                "type": "image_url", "image_url": .obj(["url": .string(url(image))]),
                "role": .string((image.role ?? .referenceImage).rawValue),
            ]))
        }
        for video in request.videos {
            content.append(.obj(["type": "video_url", "video_url": .obj(["url": .string(url(video))]), "role": "reference_video"]))
        }
        for audio in request.audios {
            content.append(.obj(["type": "audio_url", "audio_url": .obj(["url": .string(url(audio))]), "role": "reference_audio"]))
        }
        return .obj([
            "model": .string(upstreamModel),
            "content": .array(content),
            "resolution": .string(request.resolution),
            "ratio": .string(request.size),
            "duration": .int(request.duration),
            "seed": .int(task.seed),
            "generate_audio": .bool(request.generateAudio),
            "return_last_frame": .bool(request.returnLastFrame),
            "watermark": .bool(request.watermark),
            "tools": request.tools.isEmpty ? nil : .array(request.tools.map { .obj(["type": .string($0)]) }),
            "callback_url": callbackURL.map(JSONOut.string),
            "execution_expires_after": .int(min(max(expiresAfter, expiryRange.lowerBound), expiryRange.upperBound)),
        ])
    }

    /// Ark's status in the task view's terms, for progress while it runs.
    static func progress(status: String, polls: Int) -> Int {
        switch status {
        case "queued": 5
        case "running": min(95, 20 + polls * 5)
        default: 99
        }
    }
}
