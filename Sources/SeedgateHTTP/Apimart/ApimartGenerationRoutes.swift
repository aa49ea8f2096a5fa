import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

/// apimart's video generation (seed 002) and the task endpoints: `POST /v1/videos/generations`,
/// `GET /v1/tasks/{id}` (video and review tasks), `GET /v1/tasks`, `POST /v1/tasks/{id}/cancel`.
package struct ApimartGenerationRoutes {
    package let generation: GenerationService
    package let assets: AssetService
    package let results: ResultLinks
    package let store: any VideoTaskStore & KeyStore & WebhookOutbox
    package let limits: Limits
    package let urlGuard: URLGuard
    package let catalog: ModelCatalog
    /// Verification sessions are tasks too (apimart's real-avatar), read at the same path.
    package var liveness: (service: LivenessService, publicURL: String)?

    package func register(on group: RouterGroup<AuthenticatedContext>) {
        // apimart's and toapis's generation share this path; the body says which it is.
        group.post("videos/generations") { request, context in
            let body = try await JSONFields.collectBody(request, context: context)
            let fields = try JSONFields.parse(body)
            let dialect: Dialect
            do throws(SeedgateError) {
                dialect = try GenerationDialects.detect(fields, catalog: catalog)
            } catch {
                // A body with toapis's marks is answered in toapis's envelope, even when it mixes in apimart's.
                return Dialect.toapis.render(error)
            }
            if dialect == .toapis {
                do {
                    let generationRequest = try ToapisGeneration.read(fields, catalog: catalog, urlGuard: urlGuard)
                    let (task, _) = try await generation.submit(
                        key: context.key, request: generationRequest, dialect: .toapis, body: body, idempotencyKey: request.idempotencyKey, requestID: context.requestID
                    )
                    return WireJSON.response(ToapisGeneration.task(task, links: results, catalog: catalog))
                } catch let error as SeedgateError {
                    return Dialect.toapis.render(error)
                }
            }
            let generationRequest = try ApimartGenerationRequest.read(fields, catalog: catalog, urlGuard: urlGuard)
            let (task, _) = try await generation.submit(key: context.key, request: generationRequest, body: body, idempotencyKey: request.idempotencyKey, requestID: context.requestID)
            return WireJSON.response(.obj(["code": 200, "data": .array([.obj(["status": "submitted", "task_id": .string(task.id)])])]))
        }
        group.get("tasks") { request, context in
            let query = request.uri.queryParameters
            let page = try await generation.list(
                key: context.key, status: query.get("status"), limit: query.get("limit"), cursor: query.get("cursor")
            )
            return WireJSON.response(Apimart.envelope(.obj([
                "items": .array(page.tasks.map { Apimart.videoTask($0, links: results, webhook: nil) }),
                "has_more": .bool(page.nextCursor != nil),
                "next_cursor": page.nextCursor.map(JSONOut.string),
            ])))
        }
        group.get("tasks/:id") { _, context in
            let id = try context.parameters.require("id")
            if let (task, webhook) = try await store.videoTaskWithWebhook(id: id, keyID: context.key.id) {
                return WireJSON.response(Apimart.envelope(Apimart.videoTask(task, links: results, webhook: webhook)))
            }
            if let task = try await assets.reviewTask(key: context.key, id: id) {
                let webhook = try await store.webhookDelivery(taskID: id)
                return WireJSON.response(Apimart.envelope(Apimart.reviewTask(task, webhook: webhook)))
            }
            if let liveness, let session = try await liveness.service.store.livenessSession(id: id, keyID: context.key.id) {
                let webhook = try await store.webhookDelivery(taskID: id)
                return WireJSON.response(Apimart.envelope(Apimart.livenessTask(
                    session, publicURL: liveness.publicURL, now: liveness.service.store.clock.now, webhook: webhook
                )))
            }
            throw SeedgateError.notFound("task", id)
        }
        group.post("tasks/:id/cancel") { _, context in
            let task = try await generation.cancel(key: context.key, id: try context.parameters.require("id"))
            return WireJSON.response(Apimart.envelope(Apimart.videoTask(task, links: results, webhook: nil)))
        }
        group.get("account") { _, context in
            guard let account = try await store.account(keyID: context.key.id, defaults: limits) else { throw SeedgateError.unauthorized }
            return WireJSON.response(Apimart.envelope(.obj([
                "key_id": .string(account.keyID),
                "name": .string(account.name),
                "balance": .int(account.balance),
                "held": .int(account.held),
                "available": .int(account.available),
                "spent": .int(account.spent),
                "tasks": .object(["pending", "processing", "completed", "failed", "cancelled"].map { ($0, .int(account.tasksByStatus[$0] ?? 0)) }),
                "rpm": .int(account.rpm),
                "max_in_flight": .int(account.maxInFlight),
            ])))
        }
    }

    package init(
        generation: GenerationService, assets: AssetService, results: ResultLinks,
        store: any VideoTaskStore & KeyStore & WebhookOutbox, limits: Limits, urlGuard: URLGuard, catalog: ModelCatalog,
        liveness: (service: LivenessService, publicURL: String)? = nil
    ) {
        self.liveness = liveness
        self.catalog = catalog
        self.generation = generation
        self.assets = assets
        self.results = results
        self.store = store
        self.limits = limits
        self.urlGuard = urlGuard
    }
}

extension Apimart {
    /// A video task as `GET /v1/tasks/{id}` shows it (upstream.md section 3), with the effective
    /// parameters after it.
    package static func videoTask(_ task: VideoTask, links: ResultLinks, webhook: WebhookDelivery?) -> JSONOut {
        var result: JSONOut?
        if task.status == .completed, let files = task.result {
            let video = links.link(for: files.videoKey, completedAt: task.completedAt)
            result = .obj([
                "videos": .array([.obj(["url": .array([.string(video.url)]), "expires_at": .int(video.expiresAt)])]),
                "last_frame_url": files.lastFrameKey.map { .string(links.link(for: $0, completedAt: task.completedAt).url) },
            ])
        } else if task.status == .completed {
            result = .obj(["videos": .array([]), "expired": true])
        }
        let created = Int64(task.createdAt.timeIntervalSince1970)
        let completed = task.completedAt.map { Int64($0.timeIntervalSince1970) }
        return .obj([
            "id": .string(task.id),
            "status": .string(task.status.rawValue),
            "progress": .int(task.progress),
            "result": result,
            "error": task.failure.map { .obj(["code": .string($0.code), "message": .string($0.message)]) },
            "created": .int(created),
            "completed": completed.map(JSONOut.int),
            "actual_time": completed.map { .int($0 - created) },
            "model": .string(task.request.model.rawValue),
            "seed": .int(task.seed),
            "duration": .int(task.request.duration),
            "resolution": .string(task.request.resolution),
            "size": .string(task.request.size),
            "generate_audio": .bool(task.request.generateAudio),
            "return_last_frame": .bool(task.request.returnLastFrame),
            "cost": task.cost.map(JSONOut.int),
            "usage": task.usageTokens.map { .obj(["completion_tokens": .int($0)]) },
            "webhook": webhook.map(Self.webhook),
        ])
    }

    /// Delivery state of a task's webhook: where, how often tried, and how the last try went.
    package static func webhook(_ delivery: WebhookDelivery) -> JSONOut {
        .obj([
            "url": .string(delivery.url),
            "status": .string(delivery.status),
            "attempts": .int(delivery.attempts),
            "last_status_code": delivery.lastStatusCode.map(JSONOut.int),
            "last_error": delivery.lastError.map(JSONOut.string),
            "next_attempt_at": delivery.status == "pending" ? .int(Int64(delivery.nextAttemptAt.timeIntervalSince1970)) : nil,
            "delivered_at": delivery.deliveredAt.map { .int(Int64($0.timeIntervalSince1970)) },
        ])
    }
}
