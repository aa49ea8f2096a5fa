import Foundation
import HTTPTypes
import Hummingbird
import SeedgateDomain
import SeedgateSupport

/// Ark's own task API spoken downstream (upstream.md section 1 and the official SDK's
/// `content_generation.tasks`), so Ark SDK clients work unchanged against Seedgate.
package enum ArkDialect {
    /// Every parameter of the SDK's `tasks.create` (it sends the ones not given as null).
    package static let fields: Set<String> = [
        "model", "content", "resolution", "ratio", "duration", "frames", "seed", "camera_fixed", "watermark", "generate_audio",
        "return_last_frame", "tools", "callback_url", "service_tier", "execution_expires_after", "safety_identifier", "priority",
        "draft", "output_format", "omni_reference_task_type",
    ]
    package static let serviceTiers = ["default", "flex"]
    package static let framesPerSecond = 24

    package static func read(_ body: JSONFields, catalog: ModelCatalog, urlGuard: URLGuard) throws(SeedgateError) -> GenerationRequest {
        try body.rejectUnknown(fields)
        let spec = try GenerationDraft.model(try body.string("model"), field: "model", dialect: .ark, catalog: catalog)
        guard let content = try body.objects("content") else { throw .missing("content") }

        var prompt: String?
        var images = GenerationDraft.MediaList(name: "content")
        var videos = GenerationDraft.MediaList(name: "content")
        var audios = GenerationDraft.MediaList(name: "content")
        var roleless = 0
        for item in content {
            let type = try item.requiredString("type")
            switch type {
            case "text":
                try item.rejectUnknown(["type", "text"])
                guard prompt == nil else { throw .invalid(item.name("type"), "only one text item may be given") }
                prompt = try item.requiredString("text")
            case "image_url", "video_url", "audio_url":
                try item.rejectUnknown(["type", type, "role"])
                guard let holder = try item.object(type) else { throw .missing(item.name(type)) }
                try holder.rejectUnknown(["url"])
                let url = try holder.requiredString("url")
                let role = try item.string("role")
                let field = holder.name("url")
                switch type {
                case "image_url":
                    var parsed: ImageRole?
                    if let role {
                        guard let known = ImageRole(rawValue: role) else {
                            throw .invalid(item.name("role"), "'\(Quote.short(role))' is not a role; use first_frame, last_frame or reference_image")
                        }
                        parsed = known
                    } else {
                        roleless += 1
                    }
                    images.items.append(.init(url: url, role: parsed, field: field))
                case "video_url":
                    if let role, role != "reference_video" { throw .invalid(item.name("role"), "'\(Quote.short(role))' is not a role; use reference_video") }
                    videos.items.append(.init(url: url, field: field))
                default:
                    if let role, role != "reference_audio" { throw .invalid(item.name("role"), "'\(Quote.short(role))' is not a role; use reference_audio") }
                    audios.items.append(.init(url: url, field: field))
                }
            default:
                throw .invalid(item.name("type"), "'\(Quote.short(type))' is not a content type; use text, image_url, video_url or audio_url")
            }
        }
        if roleless > 0 && roleless < images.items.count {
            throw .invalid("content", "give every image a role or none (one image alone is the first frame; several are reference images)")
        }
        images.rolesGiven = roleless == 0

        var options = ArkOptions()
        var duration = try body.integer("duration")
        if duration == -1 {
            options.modelPicksDuration = true
            duration = nil
        }
        if let frames = try body.integer("frames") {
            guard duration == nil && options.modelPicksDuration == nil else { throw .invalid("frames", "give duration or frames, not both") }
            let range = (spec.durations.lowerBound * framesPerSecond)...(spec.durations.upperBound * framesPerSecond)
            guard range.contains(Int(clamping: frames)) else {
                throw .invalid("frames", "must be an integer from \(range.lowerBound) to \(range.upperBound) (\(spec.durations.lowerBound) to \(spec.durations.upperBound) s at \(framesPerSecond) fps), not \(frames)")
            }
            options.frames = Int(frames)
            // Held and charged for the seconds it covers.
            duration = (frames + Int64(framesPerSecond) - 1) / Int64(framesPerSecond)
        }
        options.cameraFixed = try body.bool("camera_fixed")
        if let tier = try body.string("service_tier") {
            guard serviceTiers.contains(tier) else { throw .invalid("service_tier", "'\(Quote.short(tier))' is not a service tier; use default or flex") }
            options.serviceTier = tier
        }
        if let expiry = try body.integer("execution_expires_after") {
            let range = 3600...259_200
            guard range.contains(Int(clamping: expiry)) else {
                throw .invalid("execution_expires_after", "must be an integer from 3600 to 259200 seconds, not \(expiry)")
            }
            options.executionExpiresAfter = Int(expiry)
        }
        if let identifier = try body.string("safety_identifier") {
            guard !identifier.isEmpty, identifier.count <= 64 else { throw .invalid("safety_identifier", "must be 1 to 64 characters") }
            options.safetyIdentifier = identifier
        }
        if let priority = try body.integer("priority") {
            guard (0...100).contains(priority) else { throw .invalid("priority", "must be an integer from 0 to 100, not \(priority)") }
            options.priority = Int(priority)
        }
        options.draft = try body.bool("draft")
        options.outputFormat = try body.string("output_format")
        options.omniReferenceTaskType = try body.string("omni_reference_task_type")

        var draft = GenerationDraft(
            dialect: .ark, model: spec, prompt: .init(prompt, "content"), duration: .init(duration, options.frames == nil ? "duration" : "frames"),
            ratio: .init(try body.string("ratio"), "ratio"), resolution: .init(try body.string("resolution"), "resolution"),
            seed: .init(try body.integer("seed"), "seed"), images: images, videos: videos, audios: audios,
            callbackURL: .init(try body.string("callback_url"), "callback_url")
        )
        // Ark's default for 2.0 is a video with audio.
        draft.generateAudio = try body.bool("generate_audio") ?? true
        draft.returnLastFrame = try body.bool("return_last_frame")
        draft.watermark = try body.bool("watermark")
        draft.tools = try GenerationDraft.tools(body)
        var request = try GenerationRules.check(draft, catalog: catalog, urlGuard: urlGuard)
        request.ark = options
        return request
    }

    /// Ark's statuses: `queued`, `running`, `succeeded`, `failed`, `cancelled`, `expired` (a task whose
    /// upstream or deadline ran out).
    package static func status(_ task: VideoTask) -> String {
        switch task.status {
        case .pending: "queued"
        case .processing: "running"
        case .completed: "succeeded"
        case .cancelled: "cancelled"
        case .failed: expiredCodes.contains(task.failure?.code ?? "") ? "expired" : "failed"
        }
    }
    package static let expiredCodes: Set<String> = ["expired", "deadline_exceeded"]

    /// Output tokens as upstream bills them: width x height x frames / 1024.
    package static func tokens(_ task: VideoTask) -> Int64? {
        if let tokens = task.usageTokens { return tokens }
        guard let result = task.result else { return nil }
        let frames = Int64((result.seconds * Double(framesPerSecond)).rounded())
        return Int64(result.width) * Int64(result.height) * frames / 1024
    }

    /// The task as Ark's `GET /contents/generations/tasks/{id}` shows it, with Seedgate's signed links.
    package static func task(_ task: VideoTask, links: ResultLinks, catalog: ModelCatalog) -> JSONOut {
        let request = task.request, options = request.ark ?? ArkOptions()
        var content: JSONOut = .null
        if task.status == .completed, let files = task.result {
            content = .obj([
                "video_url": .string(links.link(for: files.videoKey, completedAt: task.completedAt).url),
                "last_frame_url": files.lastFrameKey.map { .string(links.link(for: $0, completedAt: task.completedAt).url) },
            ])
        }
        let tokens = tokens(task)
        let updated = task.completedAt ?? task.startedAt ?? task.createdAt
        let failure: JSONOut = task.failure.map { .obj(["code": .string($0.code), "message": .string($0.message)]) }
            ?? (task.status == .cancelled ? .obj(["code": "cancelled", "message": "the task was cancelled"]) : .null)
        return .obj([
            "id": .string(task.id),
            "model": .string(catalog.spec(request.model)?.name(in: .ark) ?? request.model.rawValue),
            "status": .string(status(task)),
            "error": failure,
            "content": content,
            "usage": tokens.map { .obj(["completion_tokens": .int($0), "total_tokens": .int($0)]) },
            "created_at": .int(Int64(task.createdAt.timeIntervalSince1970)),
            "updated_at": .int(Int64(updated.timeIntervalSince1970)),
            "seed": .int(task.seed),
            "resolution": .string(request.resolution),
            "ratio": .string(request.size),
            "duration": .int(request.duration),
            "frames": .int(options.frames ?? request.duration * framesPerSecond),
            "framespersecond": .int(framesPerSecond),
            "generate_audio": .bool(request.generateAudio),
            "return_last_frame": .bool(request.returnLastFrame),
            "watermark": .bool(request.watermark),
            "camera_fixed": .bool(options.cameraFixed ?? false),
            "draft": .bool(options.draft ?? false),
            "service_tier": .string(options.serviceTier ?? "default"),
            "execution_expires_after": .int(options.executionExpiresAfter ?? 172_800),
            "safety_identifier": options.safetyIdentifier.map(JSONOut.string),
            "priority": options.priority.map { .int($0) },
            "output_format": options.outputFormat.map(JSONOut.string),
            "tools": request.tools.isEmpty ? nil : .array(request.tools.map { .obj(["type": .string($0)]) }),
            "callback_url": request.callbackURL.map(JSONOut.string),
        ])
    }
}

/// `POST/GET /api/v3/contents/generations/tasks`, `GET/DELETE .../{id}`: any task of the key's, in Ark's shapes.
package struct ArkRoutes {
    package let generation: GenerationService
    package let links: ResultLinks
    package let catalog: ModelCatalog
    package let urlGuard: URLGuard

    package func register(on group: RouterGroup<AuthenticatedContext>) {
        group.post("contents/generations/tasks") { request, context in
            let body = try await JSONFields.collectBody(request, context: context)
            let generationRequest = try ArkDialect.read(try JSONFields.parse(body), catalog: catalog, urlGuard: urlGuard)
            let (task, _) = try await generation.submit(
                key: context.key, request: generationRequest, dialect: .ark, body: body, idempotencyKey: request.idempotencyKey, requestID: context.requestID
            )
            return WireJSON.response(.obj(["id": .string(task.id)]))
        }
        group.get("contents/generations/tasks/:id") { _, context in
            let id = try context.parameters.require("id")
            guard let task = try await generation.task(key: context.key, id: id) else { throw SeedgateError.notFound("task", id) }
            return WireJSON.response(ArkDialect.task(task, links: links, catalog: catalog))
        }
        group.get("contents/generations/tasks") { request, context in
            let query = request.uri.queryParameters
            let filter = try ArkRoutes.filter(query, catalog: catalog)
            let page = try ArkRoutes.integer(query.get("page_num"), field: "page_num", range: 1...100_000, default: 1)
            let size = try ArkRoutes.integer(query.get("page_size"), field: "page_size", range: 1...500, default: 10)
            let found = try await generation.search(key: context.key, filter: filter, offset: (page - 1) * size, limit: size)
            return WireJSON.response(.obj([
                "items": .array(found.tasks.map { ArkDialect.task($0, links: links, catalog: catalog) }),
                "total": .int(found.total),
            ]))
        }
        group.delete("contents/generations/tasks/:id") { _, context in
            try await generation.cancelOrDelete(key: context.key, id: try context.parameters.require("id"))
            return WireJSON.response(.obj([:]))
        }
    }

    static func integer(_ text: String?, field: String, range: ClosedRange<Int>, default value: Int) throws(SeedgateError) -> Int {
        guard let text else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw .invalid(field, "must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    /// `filter.status`, `filter.task_ids` (repeated), `filter.model`, `filter.service_tier`.
    static func filter(_ query: Hummingbird.Parameters, catalog: ModelCatalog) throws(SeedgateError) -> TaskFilter {
        var filter = TaskFilter()
        if let status = query.get("filter.status") {
            guard let state = TaskFilter.State(rawValue: status) else {
                throw .invalid("filter.status", "'\(Quote.short(status))' is not a status; use queued, running, succeeded, failed, cancelled or expired")
            }
            filter.state = state
        }
        let ids = query.getAll("filter.task_ids").flatMap { $0.split(separator: ",").map(String.init) }
        if !ids.isEmpty {
            guard ids.count <= 500 else { throw .invalid("filter.task_ids", "at most 500 task ids may be given") }
            filter.ids = ids
        }
        if let model = query.get("filter.model") {
            guard let spec = catalog.spec(named: model, in: .ark) else {
                throw .invalid("filter.model", "'\(Quote.short(model))' is not a model; use one of \(catalog.names(in: .ark).joined(separator: ", "))")
            }
            filter.model = spec.model
        }
        if let tier = query.get("filter.service_tier") {
            guard ArkDialect.serviceTiers.contains(tier) else { throw .invalid("filter.service_tier", "use default or flex") }
            filter.serviceTier = tier
        }
        return filter
    }

    package init(generation: GenerationService, links: ResultLinks, catalog: ModelCatalog, urlGuard: URLGuard) {
        self.generation = generation
        self.links = links
        self.catalog = catalog
        self.urlGuard = urlGuard
    }
}

/// Ark's error codes, types and statuses for Seedgate's errors (upstream.md section 1's seen codes).
package enum ArkErrors {
    package static func map(_ error: SeedgateError, status: HTTPResponse.Status) -> (code: String, type: String, status: HTTPResponse.Status) {
        switch error.kind {
        case .invalidRequest: (error.code == "missing_field" ? "MissingParameter" : "InvalidParameter", "BadRequest", .badRequest)
        case .unauthorized: ("AuthenticationError", "Unauthorized", .unauthorized)
        case .insufficientCredits: ("AccountOverdueError", "Forbidden", .forbidden)
        case .forbidden: ("AccessDenied", "Forbidden", .forbidden)
        case .notFound: ("ResourceNotFound", "NotFound", .notFound)
        case .conflict: (error.code == "idempotency_key_reused" ? "IdempotencyKeyReused" : "OperationDenied", "Conflict", .conflict)
        case .payloadTooLarge: ("RequestTooLarge", "BadRequest", .contentTooLarge)
        case .methodNotAllowed: ("MethodNotAllowed", "MethodNotAllowed", .methodNotAllowed)
        case .rateLimited: ("RateLimitExceeded", "TooManyRequests", .tooManyRequests)
        case .internalError: ("InternalServiceError", "InternalServerError", .internalServerError)
        case .serviceUnavailable: ("ServiceUnavailable", "ServiceUnavailable", .serviceUnavailable)
        }
    }
}
