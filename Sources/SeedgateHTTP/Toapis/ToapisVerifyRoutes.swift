import Foundation
import Hummingbird
import SeedgateDomain
import SeedgateSupport

/// toapis's real-person verification (dialects.md), under `/v1/videos/doubao-seedance-2-0/real-avatar`:
/// `POST verify-tasks {callback_url, locale, biz_id}` starts one, `GET verify-tasks/{id}` reads it
/// (`h5_link`, `byted_token`, `expires_at`), `GET verify-results?byted_token=` gives the group id.
/// Assets then go into the group through the private-avatar `POST .../assets` with its `group_id`.
package struct ToapisVerifyRoutes {
    package let liveness: LivenessService
    package let publicURL: String

    package func register(on group: RouterGroup<AuthenticatedContext>) {
        group.post("verify-tasks") { request, context in
            let body = try await JSONFields.parse(request, context: context)
            try body.rejectUnknown(["callback_url", "locale", "biz_id", "project_name"])
            let session = try await liveness.create(key: context.key, request: .init(
                projectName: try body.string("project_name") ?? "default", callbackURL: try body.string("callback_url"), dialect: .toapis,
                locale: try body.string("locale"), bizID: try body.string("biz_id")
            ))
            return WireJSON.response(ToapisRoutes.envelope(Self.task(session, publicURL: publicURL, now: liveness.store.clock.now)))
        }
        group.get("verify-tasks/:id") { _, context in
            let session = try await liveness.session(key: context.key, id: try context.parameters.require("id"))
            return WireJSON.response(ToapisRoutes.envelope(Self.task(session, publicURL: publicURL, now: liveness.store.clock.now)))
        }
        group.get("verify-results") { request, context in
            let query = request.uri.queryParameters
            guard let token = query.get("byted_token") ?? query.get("token"), !token.isEmpty else { throw SeedgateError.missing("byted_token") }
            let session = try await liveness.session(key: context.key, token: token)
            return WireJSON.response(ToapisRoutes.envelope(Self.result(session, now: liveness.store.clock.now)))
        }
    }

    /// The verify task: its link and token, where it stands, and the group once verified.
    package static func task(_ session: LivenessSession, publicURL: String, now: Date) -> JSONOut {
        .obj([
            "id": .string(session.id),
            "object": "real_avatar.verify_task",
            "status": .string(session.status(at: now).rawValue),
            "h5_link": .string(session.h5Link(publicURL: publicURL)),
            "byted_token": .string(session.token),
            "expires_at": .int(Int64(session.expiresAt.timeIntervalSince1970)),
            "callback_url": session.callbackURL.map(JSONOut.string),
            "locale": session.locale.map(JSONOut.string),
            "biz_id": session.bizID.map(JSONOut.string),
            "group_id": session.groupID.map(JSONOut.string),
            "error": session.failure(at: now).map { .obj(["code": .string($0.code), "message": .string($0.message)]) },
            "created_at": .int(Int64(session.createdAt.timeIntervalSince1970)),
            "completed_at": session.completedAt.map { .int(Int64($0.timeIntervalSince1970)) },
        ])
    }

    /// The verify result: the real-person group, or why there is none (yet).
    package static func result(_ session: LivenessSession, now: Date) -> JSONOut {
        .obj([
            "byted_token": .string(session.token),
            "verify_task_id": .string(session.id),
            "status": .string(session.status(at: now).rawValue),
            "group_id": session.groupID.map(JSONOut.string),
            "group_type": session.groupID.map { _ in .string(GroupType.livenessFace) },
            "error": session.failure(at: now).map { .obj(["code": .string($0.code), "message": .string($0.message)]) },
        ])
    }

    package init(liveness: LivenessService, publicURL: String) {
        self.liveness = liveness
        self.publicURL = publicURL
    }
}
