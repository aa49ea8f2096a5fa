import Foundation
import Hummingbird
import SeedgateDomain
import SeedgateSupport

/// toapis's video generation (dialects.md): the body of `POST /v1/videos/generations` in toapis's
/// spelling, and its task object (`GET /v1/videos/generations/{task_id}`, the reply, the callback).
package enum ToapisGeneration {
    static let fields: Set<String> = [
        "model", "prompt", "duration", "aspect_ratio", "image_with_roles", "video_with_roles", "audio_with_roles", "metadata", "callback_url",
    ]
    /// Seedance's other parameters travel in `metadata`.
    static let metadataFields: Set<String> = ["resolution", "generate_audio", "seed", "return_last_frame", "watermark", "tools"]
    /// The model when the body names none (toapis's documented default).
    static let defaultModel = "doubao-seedance-2-0"

    package static func read(_ body: JSONFields, catalog: ModelCatalog, urlGuard: URLGuard) throws(SeedgateError) -> GenerationRequest {
        try body.rejectUnknown(fields)
        let spec = try GenerationDraft.model(try body.string("model") ?? defaultModel, field: "model", dialect: .toapis, catalog: catalog)
        let metadata = try body.object("metadata") ?? JSONFields([:], path: "metadata")
        try metadata.rejectUnknown(metadataFields)

        func list(_ key: String, roles: [String]) throws(SeedgateError) -> GenerationDraft.MediaList {
            guard let items = try body.objects(key) else { return .init(name: key) }
            guard !items.isEmpty else { throw .invalid(key, "must hold at least one item when given") }
            let read = try GenerationDraft.withRoles(items, allowed: roles)
            return .init(read.map { .init(url: $0.url, role: ImageRole(rawValue: $0.role), field: $0.field) }, name: key, rolesGiven: true)
        }
        var videos = try list("video_with_roles", roles: ["reference_video"])
        var audios = try list("audio_with_roles", roles: ["reference_audio"])
        for index in videos.items.indices { videos.items[index].role = nil }
        for index in audios.items.indices { audios.items[index].role = nil }
        var draft = GenerationDraft(
            dialect: .toapis, model: spec, prompt: .init(try body.string("prompt"), "prompt"),
            duration: .init(try body.integer("duration"), "duration"), ratio: .init(try body.string("aspect_ratio"), "aspect_ratio"),
            resolution: .init(try metadata.string("resolution"), "metadata.resolution"), seed: .init(try metadata.integer("seed"), "metadata.seed"),
            images: try list("image_with_roles", roles: ["first_frame", "last_frame", "reference_image"]), videos: videos, audios: audios,
            callbackURL: .init(try body.string("callback_url"), "callback_url")
        )
        draft.generateAudio = try metadata.bool("generate_audio")
        draft.returnLastFrame = try metadata.bool("return_last_frame")
        draft.watermark = try metadata.bool("watermark")
        draft.tools = try GenerationDraft.tools(metadata)
        return try GenerationRules.check(draft, catalog: catalog, urlGuard: urlGuard)
    }

    /// toapis's statuses: `queued` (its status table also says `submitted`), `in_progress`, `completed`,
    /// `failed`. A cancelled task is `failed` with the code `task_cancelled`: toapis has no such status.
    package static func status(_ status: VideoStatus) -> String {
        switch status {
        case .pending: "queued"
        case .processing: "in_progress"
        case .completed: "completed"
        case .failed, .cancelled: "failed"
        }
    }

    /// The task object: the reply to a generation, its `GET`, and its callback.
    package static func task(_ task: VideoTask, links: ResultLinks, catalog: ModelCatalog) -> JSONOut {
        let request = task.request
        var result: JSONOut?
        var expiresAt: Int64?
        if task.status == .completed, let files = task.result {
            let video = links.link(for: files.videoKey, completedAt: task.completedAt)
            expiresAt = video.expiresAt
            result = .obj([
                "type": "video",
                "video_url": .string(video.url),
                "videos": .array([.obj(["url": .string(video.url), "duration": .int(request.duration), "width": .int(files.width), "height": .int(files.height)])]),
                "last_frame_url": files.lastFrameKey.map { .string(links.link(for: $0, completedAt: task.completedAt).url) },
            ])
        } else if task.status == .completed {
            result = .obj(["type": "video", "videos": .array([]), "expired": true])
        }
        let failure = WireFailure.of(task)
        return .obj([
            "id": .string(task.id),
            "object": "generation.task",
            "model": .string(catalog.spec(request.model)?.name(in: .toapis) ?? request.model.rawValue),
            "status": .string(status(task.status)),
            "progress": .int(task.progress),
            "created_at": .int(Int64(task.createdAt.timeIntervalSince1970)),
            "completed_at": task.completedAt.map { .int(Int64($0.timeIntervalSince1970)) },
            "expires_at": expiresAt.map(JSONOut.int),
            "result": result,
            "error": failure,
            "prompt": request.prompt.map(JSONOut.string),
            "duration": .int(request.duration),
            "aspect_ratio": .string(request.size),
            "metadata": .obj([
                "resolution": .string(request.resolution),
                "generate_audio": .bool(request.generateAudio),
                "seed": .int(task.seed),
                "return_last_frame": .bool(request.returnLastFrame),
                "watermark": .bool(request.watermark),
            ]),
            "cost": task.cost.map(JSONOut.int),
        ])
    }
}

/// toapis's task view: `GET /v1/videos/generations/{task_id}`, for a task made in any dialect.
package struct ToapisGenerationRoutes {
    package let generation: GenerationService
    package let links: ResultLinks
    package let catalog: ModelCatalog

    package func register(on group: RouterGroup<AuthenticatedContext>) {
        group.get(":task_id") { _, context in
            let id = try context.parameters.require("task_id")
            guard let task = try await generation.task(key: context.key, id: id) else { throw SeedgateError.notFound("task", id) }
            return WireJSON.response(ToapisGeneration.task(task, links: links, catalog: catalog))
        }
    }

    package init(generation: GenerationService, links: ResultLinks, catalog: ModelCatalog) {
        self.generation = generation
        self.links = links
        self.catalog = catalog
    }
}
