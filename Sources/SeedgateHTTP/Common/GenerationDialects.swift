import SeedgateDomain
import SeedgateSupport

/// apimart and toapis both take `POST /v1/videos/generations`. The body tells them apart: toapis's model
/// names have dashes (`doubao-seedance-2-0`) and only toapis sends `aspect_ratio`, `metadata` or
/// `video_with_roles` / `audio_with_roles`; apimart's have dots and its own fields. A body with marks of
/// both is refused, naming the fields that conflict.
enum GenerationDialects {
    static let toapisOnly = ["aspect_ratio", "metadata", "video_with_roles", "audio_with_roles"]
    static let apimartOnly = ["size", "resolution", "seed", "generate_audio", "return_last_frame", "tools", "image_urls", "video_urls", "audio_urls", "watermark"]

    static func detect(_ body: JSONFields, catalog: ModelCatalog) throws(SeedgateError) -> Dialect {
        var toapis = toapisOnly.filter { body.values[$0] != nil }
        var apimart = apimartOnly.filter { body.values[$0] != nil }
        var modelName = ""
        if case .string(let model)? = body.values["model"] {
            modelName = model
            if catalog.spec(named: model, in: .apimart) != nil {
                apimart.insert("model", at: 0)
            } else if catalog.spec(named: model, in: .toapis) != nil {
                toapis.insert("model", at: 0)
            } else if !model.contains(".") {
                // A name neither knows: dashes without dots are toapis's way of writing one.
                toapis.insert("model", at: 0)
            }
        }
        guard !toapis.isEmpty else { return .apimart }
        guard apimart.isEmpty else {
            let describe = { (fields: [String]) in fields.map { $0 == "model" ? "model '\(Quote.short(modelName))'" : $0 }.joined(separator: ", ") }
            throw .invalid(
                toapis.first { $0 != "model" } ?? "model",
                "this body mixes apimart's fields (\(describe(apimart))) with toapis's (\(describe(toapis))); send one dialect's: apimart's model names have dots and use size, resolution, image_urls; toapis's have dashes and use aspect_ratio, metadata, *_with_roles",
                code: "mixed_dialects"
            )
        }
        return .toapis
    }
}
