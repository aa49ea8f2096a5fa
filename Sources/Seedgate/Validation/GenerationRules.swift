/// The rules of `POST /v1/videos/generations` (seed 002's parameter reference), as a pure function from
/// the request's JSON to a `GenerationRequest`. Where the seed's "Differences" table disagrees with the
/// parameter reference (5-15 s; 480p/720p), the reference wins: it agrees with upstream.
public enum GenerationRules {
    public static let knownFields: Set<String> = [
        "model", "prompt", "duration", "size", "resolution", "seed", "generate_audio", "return_last_frame", "tools",
        "image_urls", "image_with_roles", "video_urls", "audio_urls", "callback_url", "watermark",
    ]
    public static let sizes = ["16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "adaptive"]
    public static let resolutions = ["480p", "720p", "1080p"]
    public static let durations = 4...15
    public static let seeds: ClosedRange<Int64> = -1...4_294_967_295
    public static let maxPromptCharacters = 4000
    public static let maxImages = 9
    public static let maxVideos = 3
    public static let maxAudios = 3

    public static func parse(_ body: JSONFields, urlGuard: URLGuard) throws(SeedgateError) -> GenerationRequest {
        try body.rejectUnknown(knownFields)

        guard let modelName = try body.string("model") else { throw .missing("model") }
        guard let model = VideoModel(rawValue: modelName) else {
            throw .invalid("model", "'\(modelName)' is not a model; use one of \(VideoModel.allCases.map(\.rawValue).joined(separator: ", "))")
        }

        let duration = try body.integer("duration") ?? 5
        guard durations.contains(Int(clamping: duration)) else {
            throw .invalid("duration", "must be an integer from 4 to 15 seconds, not \(duration)")
        }
        let size = try body.string("size") ?? "16:9"
        guard sizes.contains(size) else { throw .invalid("size", "'\(size)' is not a size; use one of \(sizes.joined(separator: ", "))") }
        let resolution = try body.string("resolution") ?? "480p"
        guard resolutions.contains(resolution) else {
            throw .invalid("resolution", "'\(resolution)' is not a resolution; use 480p, 720p or 1080p")
        }
        if resolution == "1080p" && !model.supports1080p {
            throw .invalid("resolution", "1080p is only available with doubao-seedance-2.0 and doubao-seedance-2.0-face, not \(model.rawValue)")
        }
        let seed = try body.integer("seed")
        if let seed, !seeds.contains(seed) {
            throw .invalid("seed", "must be an integer from -1 to 4294967295, not \(seed)")
        }
        let tools = try parseTools(body)

        // Images: image_urls xor image_with_roles.
        let imageURLs = try body.strings("image_urls")
        let withRoles = try body.objects("image_with_roles")
        if imageURLs != nil && withRoles != nil {
            throw .invalid("image_with_roles", "image_urls and image_with_roles cannot be used together; use one")
        }
        let videoURLs = try body.strings("video_urls") ?? []
        let audioURLs = try body.strings("audio_urls") ?? []
        guard videoURLs.count <= maxVideos else { throw .invalid("video_urls", "holds \(videoURLs.count) videos; at most \(maxVideos) are allowed") }
        guard audioURLs.count <= maxAudios else { throw .invalid("audio_urls", "holds \(audioURLs.count) audio files; at most \(maxAudios) are allowed") }

        var images: [MediaInput] = []
        if let imageURLs {
            guard !imageURLs.isEmpty else { throw .invalid("image_urls", "must hold at least one URL when given") }
            guard imageURLs.count <= maxImages else { throw .invalid("image_urls", "holds \(imageURLs.count) images; at most \(maxImages) are allowed") }
            // One plain image alone animates as the first frame; otherwise images are references
            // (an avatar asset is always a reference: seed 002, case 10).
            let alone = imageURLs.count == 1 && videoURLs.isEmpty && audioURLs.isEmpty && !imageURLs[0].hasPrefix("asset://")
            for (index, url) in imageURLs.enumerated() {
                var input = try mediaInput(url, field: "image_urls[\(index)]", model: model, urlGuard: urlGuard)
                input.role = alone ? .firstFrame : .referenceImage
                images.append(input)
            }
        } else if let withRoles {
            guard !withRoles.isEmpty else { throw .invalid("image_with_roles", "must hold at least one image when given") }
            guard withRoles.count <= maxImages else { throw .invalid("image_with_roles", "holds \(withRoles.count) images; at most \(maxImages) are allowed") }
            for item in withRoles {
                try item.rejectUnknown(["url", "role"])
                let roleName = try item.requiredString("role")
                guard let role = ImageRole(rawValue: roleName) else {
                    throw .invalid(item.name("role"), "'\(roleName)' is not a role; use first_frame, last_frame or reference_image")
                }
                var input = try mediaInput(try item.requiredString("url"), field: item.name("url"), model: model, urlGuard: urlGuard)
                input.role = role
                images.append(input)
            }
            let roles = images.compactMap(\.role)
            let firsts = roles.filter { $0 == .firstFrame }.count
            let lasts = roles.filter { $0 == .lastFrame }.count
            let references = roles.filter { $0 == .referenceImage }.count
            let valid = (firsts == 1 && lasts == 0 && references == 0)
                || (firsts == 1 && lasts == 1 && references == 0)
                || (firsts == 0 && lasts == 0 && references >= 1)
            guard valid else {
                throw .invalid("image_with_roles", "roles must be one first_frame, one first_frame with one last_frame, or 1 to 9 reference_image (not mixed)")
            }
        }
        let hasFrames = images.contains { $0.role == .firstFrame || $0.role == .lastFrame }
        if hasFrames && withRoles != nil {
            if !videoURLs.isEmpty { throw .invalid("video_urls", "reference videos cannot be used with first/last frame images") }
            if !audioURLs.isEmpty { throw .invalid("audio_urls", "reference audio cannot be used with first/last frame images") }
        }
        let videos = try videoURLs.enumerated().map { index, url throws(SeedgateError) in
            try mediaInput(url, field: "video_urls[\(index)]", model: model, urlGuard: urlGuard)
        }
        let audios = try audioURLs.enumerated().map { index, url throws(SeedgateError) in
            try mediaInput(url, field: "audio_urls[\(index)]", model: model, urlGuard: urlGuard)
        }
        if !audios.isEmpty && videos.isEmpty && !images.contains(where: { $0.role == .referenceImage }) {
            throw .invalid("audio_urls", "reference audio must be used together with reference images or reference videos")
        }

        let prompt = try body.string("prompt")
        if let prompt, prompt.count > maxPromptCharacters {
            throw .invalid("prompt", "is \(prompt.count) characters; at most \(maxPromptCharacters) are allowed")
        }
        let hasPrompt = !(prompt ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
        if !hasPrompt && images.isEmpty && videos.isEmpty {
            throw .missing("prompt")
        }

        var callbackURL: String?
        if let callback = try body.string("callback_url") {
            callbackURL = try urlGuard.checkSyntax(callback, field: "callback_url").absoluteString
        }
        return GenerationRequest(
            model: model, prompt: hasPrompt ? prompt : nil, duration: Int(duration), size: size, resolution: resolution,
            seed: seed, generateAudio: try body.bool("generate_audio") ?? false,
            returnLastFrame: try body.bool("return_last_frame") ?? false, tools: tools,
            images: images, videos: videos, audios: audios, callbackURL: callbackURL, watermark: try body.bool("watermark") ?? false
        )
    }

    static func parseTools(_ body: JSONFields) throws(SeedgateError) -> [String] {
        guard let tools = try body.objects("tools") else { return [] }
        var types: [String] = []
        for tool in tools {
            try tool.rejectUnknown(["type"])
            let type = try tool.requiredString("type")
            guard type == "web_search" else { throw .invalid(tool.name("type"), "'\(type)' is not a tool; only web_search is supported") }
            types.append(type)
        }
        return types
    }

    /// A public http(s) URL, or `asset://<id>` on the models that accept assets.
    static func mediaInput(_ url: String, field: String, model: VideoModel, urlGuard: URLGuard) throws(SeedgateError) -> MediaInput {
        if url.hasPrefix("asset://") {
            let id = String(url.dropFirst("asset://".count))
            guard !id.isEmpty, id.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                throw .invalid(field, "'\(url)' is not a valid asset URL; use asset://<asset id>")
            }
            guard model.acceptsAssets else {
                throw .invalid(field, "asset:// inputs are only accepted by doubao-seedance-2.0 and doubao-seedance-2.0-fast, not \(model.rawValue)")
            }
            return MediaInput(url: url, assetID: id, field: field)
        }
        return MediaInput(url: try urlGuard.checkSyntax(url, field: field).absoluteString, field: field)
    }
}
