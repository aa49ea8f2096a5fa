import Foundation
import SeedgateDomain
import SeedgateSupport

/// What a task's webhook posts, in the dialect the task was made in: apimart's task envelope, toapis's
/// task (or asset) object, crun's `TaskInfo` data (or asset info).
package enum WebhookBodies {
    package static func video(_ task: VideoTask, links: ResultLinks, catalog: ModelCatalog) -> JSONOut {
        switch task.dialect {
        case .apimart: Apimart.envelope(Apimart.videoTask(task, links: links, webhook: nil))
        case .toapis: ToapisGeneration.task(task, links: links, catalog: catalog)
        case .crun: CrunGeneration.task(task, links: links, catalog: catalog)
        case .ark: ArkDialect.task(task, links: links, catalog: catalog)
        }
    }

    /// A verification's outcome: apimart's session task, toapis's verify task, crun's validate result.
    package static func liveness(_ session: LivenessSession, publicURL: String, now: Date) -> JSONOut {
        switch session.dialect {
        case .toapis: ToapisRoutes.envelope(ToapisVerifyRoutes.task(session, publicURL: publicURL, now: now))
        case .crun: CrunVerifyRoutes.result(session, now: now)
        default: Apimart.envelope(Apimart.livenessTask(session, publicURL: publicURL, now: now))
        }
    }

    package static func review(_ task: AssetReviewTask) -> JSONOut {
        switch (task.dialect, task.assets.first) {
        case (.toapis, let asset?): ToapisRoutes.envelope(ToapisRoutes.asset(asset))
        case (.crun, let asset?): CrunRoutes.assetInfo(asset)
        default: Apimart.envelope(Apimart.reviewTask(task))
        }
    }
}
