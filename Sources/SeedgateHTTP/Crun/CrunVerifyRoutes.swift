import Foundation
import Hummingbird
import SeedgateDomain
import SeedgateSupport

/// crun's real-person verification (dialects.md): `POST visual-validate-session {callback_url}` ->
/// `{BytedToken, H5Link, CallbackURL}`, `GET visual-validate-result?byted_token=` -> the group, with
/// `resultCode` 10000 once verified. Assets then go in through `asset-upload` with `group_id`.
package struct CrunVerifyRoutes {
    package let liveness: LivenessService
    package let publicURL: String

    /// `resultCode` values: 10000 is crun's success; the others are Seedgate's, one per state, so a
    /// client that checks for 10000 waits or stops as it should.
    package static func resultCode(_ status: LivenessStatus) -> Int {
        switch status {
        case .verified: 10000
        case .pending: 10001
        case .submitted: 10002
        case .failed: 20001
        case .expired: 20002
        }
    }

    package func register(on group: RouterGroup<AuthenticatedContext>) {
        group.post("visual-validate-session") { request, context in
            let body = try await JSONFields.parse(request, context: context)
            try body.rejectUnknown(["callback_url", "project_name"])
            let session = try await liveness.create(key: context.key, request: .init(
                projectName: try body.string("project_name") ?? "default", callbackURL: try body.string("callback_url"), dialect: .crun
            ))
            return WireJSON.response(CrunRoutes.envelope(.obj([
                "BytedToken": .string(session.token),
                "H5Link": .string(session.h5Link(publicURL: publicURL)),
                "CallbackURL": session.callbackURL.map(JSONOut.string),
                "TaskId": .string(session.id),
                "ExpiresAt": .int(Int64(session.expiresAt.timeIntervalSince1970)),
            ])))
        }
        group.get("visual-validate-result") { request, context in
            guard let token = request.uri.queryParameters.get("byted_token"), !token.isEmpty else { throw SeedgateError.missing("byted_token") }
            let session = try await liveness.session(key: context.key, token: token)
            return WireJSON.response(CrunRoutes.envelope(Self.result(session, now: liveness.store.clock.now)))
        }
    }

    package static func result(_ session: LivenessSession, now: Date) -> JSONOut {
        let status = session.status(at: now)
        return .obj([
            "resultCode": .int(resultCode(status)),
            "Status": .string(status.rawValue),
            "GroupId": session.groupID.map(JSONOut.string),
            "GroupType": session.groupID.map { _ in .string(GroupType.livenessFace) },
            "BytedToken": .string(session.token),
            "TaskId": .string(session.id),
            "Error": session.failure(at: now).map { .obj(["Code": .string($0.code), "Message": .string($0.message)]) },
        ])
    }

    package init(liveness: LivenessService, publicURL: String) {
        self.liveness = liveness
        self.publicURL = publicURL
    }
}
