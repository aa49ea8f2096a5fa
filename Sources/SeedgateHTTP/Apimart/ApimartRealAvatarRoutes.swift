import Foundation
import Hummingbird
import SeedgateDomain
import SeedgateSupport

/// apimart's real-person verification (dialects.md): one endpoint, `POST /v1/seedance2/real-avatar`,
/// with three uses told apart by the body: `callback_url` starts a session (its task, at
/// `GET /v1/tasks/{id}`, carries the token and the H5 link), `byted_token` reads the outcome (the
/// real-person group), `group_id` with `assets` submits assets into that group (a review task as seed
/// 000's, `asset_type` Video by default).
package struct ApimartRealAvatarRoutes {
    package let liveness: LivenessService
    package let assets: ApimartAssetRoutes
    package let publicURL: String

    package func register(on group: RouterGroup<AuthenticatedContext>) {
        group.post("seedance2/real-avatar") { request, context in
            let body = try await JSONFields.parse(request, context: context)
            if body.has("group_id") || body.has("assets") || body.has("url") {
                try body.rejectUnknown(["group_id", "project_name", "asset_type", "assets", "url", "name", "model", "callback_url"])
                _ = try await liveness.realPersonGroup(key: context.key, id: try body.requiredString("group_id"))
                return try await assets.submit(body, key: context.key, defaultType: .video)
            }
            if body.has("byted_token") {
                try body.rejectUnknown(["byted_token", "project_name"])
                let session = try await liveness.session(key: context.key, token: try body.requiredString("byted_token"))
                return WireJSON.response(Apimart.envelope(Self.outcome(session, now: liveness.store.clock.now)))
            }
            try body.rejectUnknown(["callback_url", "project_name"])
            guard let callback = try body.string("callback_url") else {
                throw SeedgateError.invalid(
                    "callback_url", "is required to start a verification (or give byted_token to read one, or group_id with assets to fill its group)",
                    code: "missing_field"
                )
            }
            let session = try await liveness.create(
                key: context.key, request: .init(projectName: try body.string("project_name") ?? "default", callbackURL: callback, dialect: .apimart)
            )
            return WireJSON.response(Apimart.envelope(.obj(["id": .string(session.id), "status": "completed"])))
        }
    }

    /// The outcome as use 2 answers it: the token, where the check stands, and the group once verified.
    package static func outcome(_ session: LivenessSession, now: Date) -> JSONOut {
        let status = session.status(at: now)
        return .obj([
            "byted_token": .string(session.token),
            "status": .string(status.rawValue),
            "group_id": session.groupID.map(JSONOut.string),
            "group_type": session.groupID.map { _ in .string(GroupType.livenessFace) },
            "project_name": .string(session.projectName),
            "error": session.failure(at: now).map { .obj(["code": .string($0.code), "message": .string($0.message)]) },
        ])
    }

    package init(liveness: LivenessService, assets: ApimartAssetRoutes, publicURL: String) {
        self.liveness = liveness
        self.assets = assets
        self.publicURL = publicURL
    }
}

extension Apimart {
    /// A verification session as `GET /v1/tasks/{id}` shows it: the task that made the link is
    /// `completed` at once (as apimart's is); `result` carries the token, the H5 link, upstream's raw
    /// answer, and where the person's check stands.
    package static func livenessTask(_ session: LivenessSession, publicURL: String, now: Date, webhook: WebhookDelivery? = nil) -> JSONOut {
        let link = session.h5Link(publicURL: publicURL)
        return .obj([
            "id": .string(session.id),
            "status": "completed",
            "progress": 100,
            "result": .obj([
                "byted_token": .string(session.token),
                "h5_link": .string(link),
                "raw_response": .obj([
                    "ResponseMetadata": .obj(["Action": "CreateVisualValidateSession", "Version": "2024-01-01"]),
                    "Result": .obj(["BytedToken": .string(session.token), "H5Link": .string(link)]),
                ]),
                "expires_at": .int(Int64(session.expiresAt.timeIntervalSince1970)),
                "verification": ApimartRealAvatarRoutes.outcome(session, now: now),
            ]),
            "object": "seedance.real_avatar.session",
            "created": .int(Int64(session.createdAt.timeIntervalSince1970)),
            "completed": .int(Int64(session.createdAt.timeIntervalSince1970)),
            "webhook": webhook.map(Apimart.webhook),
        ])
    }
}
