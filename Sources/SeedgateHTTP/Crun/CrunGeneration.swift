import Foundation
import HTTPTypes
import Hummingbird
import SeedgateDomain
import SeedgateSupport

/// crun's video generation (dialects.md): `POST /api/v1/client/job/CreateTask` with
/// `{"model", "callback_url", "input"}`, and the task object of `TaskInfo` and of the callback.
package enum CrunGeneration {
    /// What a crun model's last word says it does.
    package enum Mode: String, CaseIterable {
        case t2v, i2v, r2v
    }

    static let common: Set<String> = ["prompt", "resolution", "aspect_ratio", "duration", "audio", "return_last_frame", "seed", "watermark", "tools"]
    package static func inputFields(_ mode: Mode) -> Set<String> {
        switch mode {
        case .t2v: common
        case .i2v: common.union(["img_urls"])
        case .r2v: common.union(["reference_images", "reference_videos", "reference_audios"])
        }
    }

    /// The catalog model and mode of a crun model name (`bytedance/seedance2-0-fast-i2v`).
    package static func model(_ name: String?, catalog: ModelCatalog) throws(SeedgateError) -> (ModelSpec, Mode) {
        guard let name else { throw .missing("model") }
        let every = catalog.names(in: .crun).flatMap { base in Mode.allCases.map { "\(base)-\($0.rawValue)" } }
        guard let dash = name.lastIndex(of: "-"), let mode = Mode(rawValue: String(name[name.index(after: dash)...])),
              let spec = catalog.spec(named: String(name[..<dash]), in: .crun)
        else {
            throw .invalid("model", "'\(Quote.short(name))' is not a model; use one of \(every.joined(separator: ", "))")
        }
        return (spec, mode)
    }

    package static func read(_ body: JSONFields, catalog: ModelCatalog, urlGuard: URLGuard) throws(SeedgateError) -> GenerationRequest {
        try body.rejectUnknown(["model", "callback_url", "input"])
        let (spec, mode) = try model(try body.string("model"), catalog: catalog)
        guard let input = try body.object("input") else { throw .missing("input") }
        try input.rejectUnknown(inputFields(mode))

        func urls(_ key: String, role: ImageRole? = nil) throws(SeedgateError) -> GenerationDraft.MediaList {
            let list = try input.strings(key) ?? []
            return .init(list.enumerated().map { .init(url: $1, role: role, field: "\(input.name(key))[\($0)]") }, name: input.name(key), rolesGiven: role != nil)
        }
        var images = GenerationDraft.MediaList(name: input.name("img_urls"))
        var videos = GenerationDraft.MediaList(name: input.name("reference_videos"))
        var audios = GenerationDraft.MediaList(name: input.name("reference_audios"))
        switch mode {
        case .t2v: break
        case .i2v:
            // One image is the first frame; two are the first and the last.
            guard let frames = try input.strings("img_urls") else { throw .missing(input.name("img_urls")) }
            guard (1...2).contains(frames.count) else {
                throw .invalid(input.name("img_urls"), "holds \(frames.count) images; give 1 (the first frame) or 2 (the first and last frames)")
            }
            images = .init(frames.enumerated().map { index, url in
                .init(url: url, role: index == 0 ? .firstFrame : .lastFrame, field: "\(input.name("img_urls"))[\(index)]")
            }, name: input.name("img_urls"), rolesGiven: true)
        case .r2v:
            images = try urls("reference_images", role: .referenceImage)
            videos = try urls("reference_videos")
            audios = try urls("reference_audios")
            if images.items.isEmpty && videos.items.isEmpty && audios.items.isEmpty {
                throw .invalid(input.name("reference_images"), "an r2v model needs at least one of reference_images, reference_videos or reference_audios")
            }
        }
        var draft = GenerationDraft(
            dialect: .crun, model: spec, prompt: .init(try input.string("prompt"), input.name("prompt")),
            duration: .init(try input.integer("duration"), input.name("duration")),
            ratio: .init(try input.string("aspect_ratio"), input.name("aspect_ratio")),
            resolution: .init(try input.string("resolution"), input.name("resolution")), seed: .init(try input.integer("seed"), input.name("seed")),
            images: images, videos: videos, audios: audios, callbackURL: .init(try body.string("callback_url"), "callback_url")
        )
        draft.adaptiveSpelling = "auto"
        draft.generateAudio = try input.bool("audio")
        draft.returnLastFrame = try input.bool("return_last_frame")
        draft.watermark = try input.bool("watermark")
        draft.tools = try GenerationDraft.tools(input)
        return try GenerationRules.check(draft, catalog: catalog, urlGuard: urlGuard)
    }

    /// The crun model a request is, whatever dialect it came in: frames are i2v, references r2v.
    package static func modelName(_ request: GenerationRequest, catalog: ModelCatalog) -> String {
        let base = catalog.spec(request.model)?.name(in: .crun) ?? request.model.rawValue
        let mode: Mode = request.hasFrames ? .i2v : request.inputs.isEmpty ? .t2v : .r2v
        return "\(base)-\(mode.rawValue)"
    }

    /// The request in crun's `input` spelling.
    package static func input(_ request: GenerationRequest, seed: Int64) -> JSONOut {
        let urls = { (inputs: [MediaInput]) -> JSONOut? in inputs.isEmpty ? nil : .array(inputs.map { .string($0.url) }) }
        let frames = [request.firstFrame, request.lastFrame].compactMap { $0 }
        return .obj([
            "prompt": request.prompt.map(JSONOut.string),
            "img_urls": urls(frames),
            "reference_images": urls(request.referenceImages),
            "reference_videos": urls(request.videos),
            "reference_audios": urls(request.audios),
            "resolution": .string(request.resolution),
            "aspect_ratio": .string(request.size == "adaptive" ? "auto" : request.size),
            "duration": .int(request.duration),
            "audio": .bool(request.generateAudio),
            "return_last_frame": .bool(request.returnLastFrame),
            "seed": .int(seed),
            "watermark": .bool(request.watermark),
        ])
    }

    /// crun's statuses: `running` until the end, then `success` or `failed` (a cancelled task is failed).
    package static func status(_ status: VideoStatus) -> String {
        switch status {
        case .pending, .processing: "running"
        case .completed: "success"
        case .failed, .cancelled: "failed"
        }
    }

    /// The `data` of `TaskInfo`, and the body of the callback.
    package static func task(_ task: VideoTask, links: ResultLinks, catalog: ModelCatalog) -> JSONOut {
        let request = task.request
        let model = modelName(request, catalog: catalog)
        var result: JSONOut?
        if task.status == .completed, let files = task.result {
            let video = links.link(for: files.videoKey, completedAt: task.completedAt)
            result = .obj([
                "media_urls": .array([.string(video.url)]),
                "last_frame_url": files.lastFrameKey.map { .string(links.link(for: $0, completedAt: task.completedAt).url) },
                "expires_at": .int(video.expiresAt),
                "usage": .obj([
                    "duration": .int(request.duration), "resolution": .string(request.resolution),
                    "completion_tokens": task.usageTokens.map(JSONOut.int), "credits": task.cost.map(JSONOut.int),
                ]),
            ])
        } else if task.status == .completed {
            result = .obj(["media_urls": .array([]), "expired": true])
        }
        let failure = WireFailure.of(task)
        return .obj([
            "task_id": .string(task.id),
            "provider": "bytedance",
            "model_version": .string(model),
            "status": .string(status(task.status)),
            "progress": .int(task.progress),
            "param": .obj([
                "model": .string(model),
                "callback_url": request.callbackURL.map(JSONOut.string),
                "input": input(request, seed: task.seed),
            ]),
            "create_at": .string(task.createdAt.formatted(.iso8601)),
            "result": result ?? .null,
            "error": failure,
            "duration_s": task.completedAt.map { .int(Int64($0.timeIntervalSince(task.createdAt).rounded())) },
            "complete_at": task.completedAt.map { .string($0.formatted(.iso8601)) },
            "source": "api",
        ])
    }
}

/// crun's generation endpoints: `CreateTask` and `TaskInfo` (any task of the key's, made in any dialect).
package struct CrunGenerationRoutes {
    package let generation: GenerationService
    package let links: ResultLinks
    package let catalog: ModelCatalog
    package let urlGuard: URLGuard

    package func register(on group: RouterGroup<AuthenticatedContext>) {
        group.post("CreateTask") { request, context in
            let body = try await JSONFields.collectBody(request, context: context)
            let generationRequest = try CrunGeneration.read(try JSONFields.parse(body), catalog: catalog, urlGuard: urlGuard)
            let (task, _) = try await generation.submit(
                key: context.key, request: generationRequest, dialect: .crun, body: body, idempotencyKey: request.idempotencyKey, requestID: context.requestID
            )
            return WireJSON.response(CrunRoutes.envelope(.obj(["task_id": .string(task.id)])))
        }
        group.get("TaskInfo") { request, context in
            guard let id = request.uri.queryParameters.get("task_id"), !id.isEmpty else { throw SeedgateError.missing("task_id") }
            guard let task = try await generation.task(key: context.key, id: id) else { throw SeedgateError.notFound("task", id) }
            return WireJSON.response(CrunRoutes.envelope(CrunGeneration.task(task, links: links, catalog: catalog)))
        }
    }

    package init(generation: GenerationService, links: ResultLinks, catalog: ModelCatalog, urlGuard: URLGuard) {
        self.generation = generation
        self.links = links
        self.catalog = catalog
        self.urlGuard = urlGuard
    }
}

extension Request {
    /// The client's `Idempotency-Key`, in any dialect.
    package var idempotencyKey: String? { HTTPField.Name("Idempotency-Key").flatMap { headers[$0] } }
}
