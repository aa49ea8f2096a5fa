import Foundation
import SeedgateSupport

/// A generation request as a dialect read it off the wire: values not yet checked, each with the name
/// the dialect gives its field. `GenerationRules.check` holds every dialect's draft to the same rules,
/// so a rule is written once and each error names the field the client sent.
public struct GenerationDraft: Sendable {
    /// A value and the field it came from (`metadata.resolution`, `input.duration`).
    public struct Field<Value: Sendable>: Sendable {
        public var value: Value
        public var name: String
        public init(_ value: Value, _ name: String) {
            self.value = value
            self.name = name
        }
    }

    /// A media input as sent. `role` nil: the rules decide (one plain image alone is the first frame).
    public struct Media: Sendable {
        public var url: String
        public var role: ImageRole?
        public var field: String
        public init(url: String, role: ImageRole? = nil, field: String) {
            self.url = url
            self.role = role
            self.field = field
        }
    }

    /// The inputs of one kind, and the field that holds them (named when there are too many).
    public struct MediaList: Sendable {
        public var items: [Media]
        public var name: String
        /// Whether the client gave the images' roles (then the role combinations are checked).
        public var rolesGiven: Bool
        public init(_ items: [Media] = [], name: String, rolesGiven: Bool = false) {
            self.items = items
            self.name = name
            self.rolesGiven = rolesGiven
        }
    }

    public var dialect: Dialect
    /// The model, already found in the catalog by the dialect's name for it.
    public var model: ModelSpec
    public var modelField: String
    public var prompt: Field<String?>
    public var duration: Field<Int64?>
    /// The ratio as sent; `adaptiveSpelling` is this dialect's word for "adaptive" (crun's `auto`).
    public var ratio: Field<String?>
    public var adaptiveSpelling: String = "adaptive"
    public var resolution: Field<String?>
    public var seed: Field<Int64?>
    public var generateAudio: Bool?
    public var returnLastFrame: Bool?
    public var watermark: Bool?
    public var tools: [String] = []
    public var images: MediaList
    public var videos: MediaList
    public var audios: MediaList
    public var callbackURL: Field<String?>

    public init(
        dialect: Dialect, model: ModelSpec, modelField: String = "model", prompt: Field<String?>, duration: Field<Int64?>,
        ratio: Field<String?>, resolution: Field<String?>, seed: Field<Int64?>, images: MediaList, videos: MediaList,
        audios: MediaList, callbackURL: Field<String?>
    ) {
        self.dialect = dialect
        self.model = model
        self.modelField = modelField
        self.prompt = prompt
        self.duration = duration
        self.ratio = ratio
        self.resolution = resolution
        self.seed = seed
        self.images = images
        self.videos = videos
        self.audios = audios
        self.callbackURL = callbackURL
    }
}

extension GenerationRules {
    /// Every rule of seed 002 and the model's catalog entry, on a draft from any dialect; the result has
    /// every default applied.
    public static func check(_ draft: GenerationDraft, catalog: ModelCatalog, urlGuard: URLGuard) throws(SeedgateError) -> GenerationRequest {
        let spec = draft.model
        let modelName = spec.name(in: draft.dialect)

        let duration = draft.duration.value ?? Int64(min(max(5, spec.durations.lowerBound), spec.durations.upperBound))
        guard spec.durations.contains(Int(clamping: duration)) else {
            throw .invalid(draft.duration.name, "must be an integer from \(spec.durations.lowerBound) to \(spec.durations.upperBound) seconds, not \(duration)")
        }
        let ratios = sizes.map { $0 == "adaptive" ? draft.adaptiveSpelling : $0 }
        let ratioSent = draft.ratio.value ?? "16:9"
        guard ratios.contains(ratioSent) else {
            throw .invalid(draft.ratio.name, "'\(Quote.short(ratioSent))' is not a \(draft.dialect == .apimart ? "size" : "ratio"); use one of \(ratios.joined(separator: ", "))")
        }
        let size = ratioSent == draft.adaptiveSpelling ? "adaptive" : ratioSent
        let resolution = draft.resolution.value ?? "480p"
        guard resolutions.contains(resolution) else {
            throw .invalid(draft.resolution.name, "'\(Quote.short(resolution))' is not a resolution; use 480p, 720p or 1080p")
        }
        guard spec.resolutions.contains(resolution) else {
            let offering = catalog.specs.filter { $0.resolutions.contains(resolution) }.map { $0.name(in: draft.dialect) }
            throw .invalid(draft.resolution.name, "\(resolution) is only available with \(offering.joined(separator: " and ")), not \(modelName)")
        }
        if let seed = draft.seed.value, !seeds.contains(seed) {
            throw .invalid(draft.seed.name, "must be an integer from -1 to 4294967295, not \(seed)")
        }

        let imageList = draft.images, videoList = draft.videos, audioList = draft.audios
        guard imageList.items.count <= spec.maxImages else {
            throw .invalid(imageList.name, "holds \(imageList.items.count) images; at most \(spec.maxImages) are allowed")
        }
        guard videoList.items.count <= spec.maxVideos else {
            throw .invalid(videoList.name, "holds \(videoList.items.count) videos; at most \(spec.maxVideos) are allowed")
        }
        guard audioList.items.count <= spec.maxAudios else {
            throw .invalid(audioList.name, "holds \(audioList.items.count) audio files; at most \(spec.maxAudios) are allowed")
        }
        // One plain image alone animates as the first frame; otherwise images are references
        // (an avatar asset is always a reference: seed 002, case 10).
        let alone = imageList.items.count == 1 && videoList.items.isEmpty && audioList.items.isEmpty
            && !imageList.items[0].url.hasPrefix("asset://")
        var images: [MediaInput] = []
        for item in imageList.items {
            var input = try mediaInput(item.url, field: item.field, spec: spec, dialect: draft.dialect, catalog: catalog, urlGuard: urlGuard)
            input.role = item.role ?? (alone ? .firstFrame : .referenceImage)
            images.append(input)
        }
        if imageList.rolesGiven && !images.isEmpty {
            let roles = images.compactMap(\.role)
            let firsts = roles.filter { $0 == .firstFrame }.count
            let lasts = roles.filter { $0 == .lastFrame }.count
            let references = roles.filter { $0 == .referenceImage }.count
            let valid = (firsts == 1 && lasts == 0 && references == 0)
                || (firsts == 1 && lasts == 1 && references == 0)
                || (firsts == 0 && lasts == 0 && references >= 1)
            guard valid else {
                throw .invalid(imageList.name, "roles must be one first_frame, one first_frame with one last_frame, or 1 to \(spec.maxImages) reference_image (not mixed)")
            }
        }
        let hasFrames = images.contains { $0.role == .firstFrame || $0.role == .lastFrame }
        if hasFrames {
            if !videoList.items.isEmpty { throw .invalid(videoList.name, "reference videos cannot be used with first/last frame images") }
            if !audioList.items.isEmpty { throw .invalid(audioList.name, "reference audio cannot be used with first/last frame images") }
        }
        let videos = try videoList.items.map { item throws(SeedgateError) in
            try mediaInput(item.url, field: item.field, spec: spec, dialect: draft.dialect, catalog: catalog, urlGuard: urlGuard)
        }
        let audios = try audioList.items.map { item throws(SeedgateError) in
            try mediaInput(item.url, field: item.field, spec: spec, dialect: draft.dialect, catalog: catalog, urlGuard: urlGuard)
        }
        if !audios.isEmpty && videos.isEmpty && !images.contains(where: { $0.role == .referenceImage }) {
            throw .invalid(audioList.name, "reference audio must be used together with reference images or reference videos")
        }

        let prompt = draft.prompt.value
        if let prompt, prompt.count > maxPromptCharacters {
            throw .invalid(draft.prompt.name, "is \(prompt.count) characters; at most \(maxPromptCharacters) are allowed")
        }
        let hasPrompt = !(prompt ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
        if !hasPrompt && images.isEmpty && videos.isEmpty {
            throw .missing(draft.prompt.name)
        }
        let callbackURL = try draft.callbackURL.value.map { url throws(SeedgateError) in
            try urlGuard.checkSyntax(url, field: draft.callbackURL.name).absoluteString
        }
        return GenerationRequest(
            model: spec.model, prompt: hasPrompt ? prompt : nil, duration: Int(duration), size: size, resolution: resolution,
            seed: draft.seed.value, generateAudio: draft.generateAudio ?? false, returnLastFrame: draft.returnLastFrame ?? false,
            tools: draft.tools, images: images, videos: videos, audios: audios, callbackURL: callbackURL, watermark: draft.watermark ?? false
        )
    }

    /// A public http(s) URL, or `asset://<id>` on the models that accept assets.
    package static func mediaInput(
        _ url: String, field: String, spec: ModelSpec, dialect: Dialect, catalog: ModelCatalog, urlGuard: URLGuard
    ) throws(SeedgateError) -> MediaInput {
        if url.hasPrefix("asset://") {
            let id = String(url.dropFirst("asset://".count))
            guard !id.isEmpty, id.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                throw .invalid(field, "'\(Quote.short(url))' is not a valid asset URL; use asset://<asset id>")
            }
            guard spec.acceptsAssets else {
                let taking = catalog.specs.filter(\.acceptsAssets).map { $0.name(in: dialect) }
                throw .invalid(field, "asset:// inputs are only accepted by \(taking.joined(separator: " and ")), not \(spec.name(in: dialect))")
            }
            return MediaInput(url: url, assetID: id, field: field)
        }
        return MediaInput(url: try urlGuard.checkSyntax(url, field: field).absoluteString, field: field)
    }
}
