import Foundation
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

/// Our generation request in Ark's words (upstream.md section 1): `content[]` plus body parameters.
/// Parameters are always sent explicitly, `generate_audio` above all: Ark's default differs from ours.
package enum ArkGeneration {
    /// Ark's `execution_expires_after` range, in seconds.
    package static let expiryRange = 3600...259_200

    /// `assets` maps our asset ids to the upstream ids bound on the target channel.
    package static func body(
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
        // What an Ark SDK client gave beyond the reseller dialects goes upstream as given.
        let ark = request.ark ?? ArkOptions()
        // The length in frames when the client gave frames, else in seconds (-1: the model picks).
        let frames: JSONOut? = ark.frames.map { .int($0) }
        let duration: JSONOut? = frames != nil ? nil : ark.modelPicksDuration == true ? .int(-1) : .int(request.duration)
        return .obj([
            "model": .string(upstreamModel),
            "content": .array(content),
            "resolution": .string(request.resolution),
            "ratio": .string(request.size),
            "duration": duration,
            "frames": frames,
            "seed": .int(task.seed),
            "generate_audio": .bool(request.generateAudio),
            "return_last_frame": .bool(request.returnLastFrame),
            "watermark": .bool(request.watermark),
            "tools": request.tools.isEmpty ? nil : .array(request.tools.map { .obj(["type": .string($0)]) }),
            "callback_url": callbackURL.map(JSONOut.string),
            "execution_expires_after": .int(ark.executionExpiresAfter ?? min(max(expiresAfter, expiryRange.lowerBound), expiryRange.upperBound)),
            "camera_fixed": ark.cameraFixed.map(JSONOut.bool),
            "service_tier": ark.serviceTier.map(JSONOut.string),
            "safety_identifier": ark.safetyIdentifier.map(JSONOut.string),
            "priority": ark.priority.map { .int($0) },
            "draft": ark.draft.map(JSONOut.bool),
            "output_format": ark.outputFormat.map(JSONOut.string),
            "omni_reference_task_type": ark.omniReferenceTaskType.map(JSONOut.string),
        ])
    }

    /// Ark's status in the task view's terms, for progress while it runs.
    package static func progress(status: String, polls: Int) -> Int {
        switch status {
        case "queued": 5
        case "running": min(95, 20 + polls * 5)
        default: 99
        }
    }
}
