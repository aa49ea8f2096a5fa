import SeedgateDomain
import SeedgateSupport

/// apimart's `POST /v1/videos/generations` body (seed 002), read into a `GenerationDraft` that names
/// apimart's fields; `GenerationRules.check` then applies every rule.
package enum ApimartGenerationRequest {
    package static let fields: Set<String> = [
        "model", "prompt", "duration", "size", "resolution", "seed", "generate_audio", "return_last_frame", "tools",
        "image_urls", "image_with_roles", "video_urls", "audio_urls", "callback_url", "watermark",
    ]

    package static func read(_ body: JSONFields, catalog: ModelCatalog, urlGuard: URLGuard) throws(SeedgateError) -> GenerationRequest {
        try body.rejectUnknown(fields)
        let spec = try GenerationDraft.model(try body.string("model"), field: "model", dialect: .apimart, catalog: catalog)
        // Images: image_urls xor image_with_roles.
        let imageURLs = try body.strings("image_urls")
        let withRoles = try body.objects("image_with_roles")
        var images = GenerationDraft.MediaList(name: "image_urls")
        if imageURLs != nil && withRoles != nil {
            throw .invalid("image_with_roles", "image_urls and image_with_roles cannot be used together; use one")
        } else if let imageURLs {
            guard !imageURLs.isEmpty else { throw .invalid("image_urls", "must hold at least one URL when given") }
            images.items = imageURLs.enumerated().map { .init(url: $1, field: "image_urls[\($0)]") }
        } else if let withRoles {
            guard !withRoles.isEmpty else { throw .invalid("image_with_roles", "must hold at least one image when given") }
            images = .init(name: "image_with_roles", rolesGiven: true)
            images.items = try GenerationDraft.withRoles(withRoles, allowed: ["first_frame", "last_frame", "reference_image"])
                .map { .init(url: $0.url, role: ImageRole(rawValue: $0.role), field: $0.field) }
        }
        func urls(_ key: String) throws(SeedgateError) -> GenerationDraft.MediaList {
            .init((try body.strings(key) ?? []).enumerated().map { .init(url: $1, field: "\(key)[\($0)]") }, name: key)
        }
        var draft = GenerationDraft(
            dialect: .apimart, model: spec, prompt: .init(try body.string("prompt"), "prompt"),
            duration: .init(try body.integer("duration"), "duration"), ratio: .init(try body.string("size"), "size"),
            resolution: .init(try body.string("resolution"), "resolution"), seed: .init(try body.integer("seed"), "seed"),
            images: images, videos: try urls("video_urls"), audios: try urls("audio_urls"),
            callbackURL: .init(try body.string("callback_url"), "callback_url")
        )
        draft.generateAudio = try body.bool("generate_audio")
        draft.returnLastFrame = try body.bool("return_last_frame")
        draft.watermark = try body.bool("watermark")
        draft.tools = try GenerationDraft.tools(body)
        return try GenerationRules.check(draft, catalog: catalog, urlGuard: urlGuard)
    }
}
