import Foundation
import HTTPTypes
import Hummingbird
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

extension ConsoleRoutes {
    // MARK: Real-person verifications

    /// `/console/verifications`: the operator sees every session (those waiting for a decision first),
    /// each live photo, and approves or refuses; a key's owner sees that key's sessions, never a photo.
    func registerLivenessPages(_ group: RouterGroup<AppRequestContext>) {
        guard let liveness else { return }
        get(group, "verifications") { request, _, visit in
            let t = visit.strings
            let keyID = visit.role.isOperator ? nil : visit.key?.id
            let waiting = visit.role.isOperator ? try await liveness.service.store.livenessSessions(keyID: nil, status: .submitted, limit: 100) : []
            let recent = try await liveness.service.store.livenessSessions(keyID: keyID, status: nil, limit: 100)
            let now = liveness.service.store.clock.now
            func row(_ session: LivenessSession) -> [String: Any] {
                let status = session.status(at: now)
                return [
                    "id": session.id, "key_id": session.keyID, "status": t["verify_status_\(status.rawValue)"] ?? status.rawValue,
                    "tone": status == .verified ? "good" : status == .failed || status == .expired ? "bad" : "busy",
                    "dialect": session.dialect.rawValue, "created": Self.date(session.createdAt), "deadline": Self.date(session.expiresAt),
                    "group_id": session.groupID ?? "", "reason": session.failure(at: now)?.message ?? "",
                    "upstream": session.channel != nil && visit.role.isOperator ? t["verify_upstream"] ?? "" : "",
                    "photo": visit.role.isOperator && session.photoKey != nil ? "/console/verifications/\(session.id)/photo" : "",
                    "waiting": status == .submitted && visit.role.isOperator,
                ]
            }
            return views.page("verifications", [
                "waiting": waiting.map(row), "sessions": recent.map(row), "operator": visit.role.isOperator,
                "mode": liveness.service.mode.rawValue,
                "done": request.uri.queryParameters.get("done").flatMap { ["verify_approved", "verify_refused"].contains($0) ? t[$0] : nil } ?? "",
            ], frame: frame(visit, title: t["verifications"] ?? "", section: "verifications"))
        }
        get(group, "verifications/:id/photo") { _, context, visit in
            try ConsoleService.requireOperator(visit.role)
            let id = try context.parameters.require("id")
            guard let session = try await liveness.service.store.livenessSession(id: id, keyID: nil), let key = session.photoKey,
                  let size = try await liveness.photos.size(of: key), size > 0,
                  let content = try await liveness.photos.read(key: key, range: 0...(size - 1))
            else { throw SeedgateError.notFound("photo", id) }
            return Response(status: .ok, headers: [.contentType: BlobKey.contentType(key), .contentLength: String(size), .cacheControl: "private, no-store"],
                            body: ResponseBody { writer in
                                try await content.write { try await writer.write($0) }
                                try await writer.finish(nil)
                            })
        }
        for (action, approve) in [("approve", true), ("refuse", false)] {
            post(group, RouterPath("verifications/:id/\(action)")) { _, context, visit, form in
                try ConsoleService.requireOperator(visit.role)
                let id = try context.parameters.require("id")
                _ = try await liveness.service.decide(id: id, approve: approve, reason: form["reason"])
                logger.info("verification decided in the console", metadata: ["task": "\(id)", "approved": "\(approve)"])
                return Self.redirect("/console/verifications?done=\(approve ? "verify_approved" : "verify_refused")")
            }
        }
    }
}
