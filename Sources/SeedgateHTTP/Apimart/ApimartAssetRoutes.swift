import Foundation
import Hummingbird
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

/// apimart's private-avatar API (seed 000): batch submission and the review task view at
/// `GET /v1/tasks/{id}`.
package struct ApimartAssetRoutes {
    package let assets: AssetService
    package let catalog: ModelCatalog
    package static let model = "doubao-seedance-2.0"

    package func register(on group: RouterGroup<AuthenticatedContext>) {
        group.post("seedance2/private-avatar") { request, context in
            try await submit(JSONFields.parse(request, context: context), key: context.key)
        }
    }

    /// Seed 000's submission; real-person groups take the same body with Video as the default type.
    package func submit(_ body: JSONFields, key: APIKey, defaultType: SeedgateDomain.MediaType = .image) async throws -> Response {
        try body.rejectUnknown(["group", "group_id", "project_name", "asset_type", "assets", "url", "name", "model", "callback_url"])
        let target: GroupTarget
        switch (try body.object("group"), try body.string("group_id")) {
        case (.some, .some):
            throw SeedgateError.invalid("group_id", "group and group_id are mutually exclusive; give group to create a group or group_id to use one")
        case (.none, .none):
            throw SeedgateError.invalid("group_id", "is required unless group is given (to create a new group)", code: "missing_field")
        case (.some(let group), .none):
            try group.rejectUnknown(["name", "description"])
            target = .new(name: try group.requiredString("name"), description: try group.string("description") ?? "")
        case (.none, .some(let id)):
            target = .existing(id: id)
        }
        let type = try AssetRules.mediaType(try body.string("asset_type"), field: "asset_type", default: defaultType)
        // Assets serve the models that take `asset://` inputs; the reply names the one asked for.
        var model = Self.model
        if let name = try body.string("model") {
            guard let asked = catalog.spec(named: name, in: .apimart), asked.acceptsAssets else {
                let usable = catalog.specs.filter(\.acceptsAssets).map(\.name).joined(separator: " or ")
                throw SeedgateError.invalid("model", "'\(Quote.short(name))' is not a model that takes assets; use \(usable)")
            }
            model = asked.name
        }

        let items: [AssetService.Item]
        let countField: String
        if let list = try body.objects("assets") {
            if body.has("url") || body.has("name") {
                throw SeedgateError.invalid("assets", "assets and the single-asset shorthand (url, name) are mutually exclusive; use one")
            }
            items = try list.map { item throws(SeedgateError) in
                try item.rejectUnknown(["url", "name"])
                return .init(url: try item.requiredString("url"), name: try item.string("name"),
                             urlField: item.name("url"), nameField: item.name("name"))
            }
            countField = "assets"
        } else if let url = try body.string("url") {
            items = [.init(url: url, name: try body.string("name"), urlField: "url", nameField: "name")]
            countField = "url"
        } else {
            throw SeedgateError.invalid("assets", "is required: give assets (1 to 20 items of {url, name}) or the single-asset shorthand url and name", code: "missing_field")
        }
        let task = try await assets.submit(key: key, target: target, projectName: try body.string("project_name"),
                                           type: type, items: items, countField: countField, callbackURL: try body.string("callback_url"))
        return WireJSON.response(Apimart.envelope(.obj([
            "id": .string(task.id),
            "object": "seedance.avatar.asset.task",
            "status": .string(task.status.rawValue),
            "progress": .int(task.progress),
            "model": .string(model),
            "group_id": .string(task.groupID),
        ])))
    }

    package init(assets: AssetService, catalog: ModelCatalog = .builtIn) {
        self.catalog = catalog
        self.assets = assets
    }
}

/// apimart's wire shapes.
package enum Apimart {
    /// The success envelope: `{"code": 200, "data": ...}`.
    package static func envelope(_ data: JSONOut) -> JSONOut {
        .obj(["code": 200, "data": data])
    }

    /// The review task as `GET /v1/tasks/{id}` shows it (seed 000): the seed's fields in its order,
    /// then each asset's name and failure reason, and the task's times.
    package static func reviewTask(_ task: AssetReviewTask, webhook: WebhookDelivery? = nil) -> JSONOut {
        func entry(_ asset: Asset) -> JSONOut {
            .obj([
                "asset_id": .string(asset.id),
                "asset_url": .string(asset.assetURL),
                "status": .string(asset.status.capitalized),
                "name": .string(asset.name),
                "error": asset.failure.map { .obj(["code": .string($0.code), "message": .string($0.message)]) },
            ])
        }
        var error: JSONOut?
        if task.status == .failed {
            let failed = task.assets.filter { $0.status == .failed }
            let message: String
            if task.assets.count == 1, let reason = failed.first?.failure {
                message = "Asset failed review: \(reason.message)"
            } else if failed.count == task.assets.count {
                message = "All assets failed review"
            } else {
                message = "Some assets failed review"
            }
            error = .obj(["code": "task_failed", "message": .string(message)])
        }
        return .obj([
            "id": .string(task.id),
            "status": .string(task.status.rawValue),
            "progress": .int(task.progress),
            "result": .obj([
                "assets": .array(task.assets.map(entry)),
                "usable_assets": .array(task.assets.filter { $0.status == .active }.map(entry)),
                "failed_assets": .array(task.assets.filter { $0.status == .failed }.map(entry)),
                "asset_url": task.assets.count == 1 ? .string(task.assets[0].assetURL) : nil,
            ]),
            "error": error,
            "object": "seedance.avatar.asset.task",
            "model": .string(ApimartAssetRoutes.model),
            "group_id": .string(task.groupID),
            "created": .int(Int64(task.createdAt.timeIntervalSince1970)),
            "completed": task.completedAt.map { .int(Int64($0.timeIntervalSince1970)) },
            "webhook": webhook.map(Apimart.webhook),
        ])
    }
}
