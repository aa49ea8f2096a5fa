import Foundation
import Hummingbird
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

/// toapis's private-avatar API (seed 001): groups, single-asset upload, asset status.
/// Envelope `{"success", "message", "data"}`; statuses and asset types in lowercase.
package struct ToapisRoutes {
    package let assets: AssetService

    package func register(on group: RouterGroup<AuthenticatedContext>) {
        group.post("groups") { request, context in
            let body = try await JSONFields.parse(request, context: context)
            try body.rejectUnknown(["name", "description", "project_name"])
            let created = try await assets.createGroup(
                key: context.key, name: try body.requiredString("name"),
                description: try body.string("description"), projectName: try body.string("project_name")
            )
            return WireJSON.response(Self.envelope(.obj([
                "group_id": .string(created.id),
                "name": .string(created.name),
                "description": .string(created.description),
                "project_name": .string(created.projectName),
                "created_at": .int(Int64(created.createdAt.timeIntervalSince1970)),
            ])))
        }
        group.post("assets") { request, context in
            let body = try await JSONFields.parse(request, context: context)
            try body.rejectUnknown(["group_id", "asset_type", "source_url", "name", "project_name", "callback_url"])
            let groupID = try body.requiredString("group_id")
            let type = try AssetRules.mediaType(try body.string("asset_type"), field: "asset_type")
            let url = try body.requiredString("source_url")
            let task = try await assets.submit(
                key: context.key, target: .existing(id: groupID), projectName: try body.string("project_name"), type: type,
                items: [.init(url: url, name: try body.string("name"), urlField: "source_url", nameField: "name")],
                countField: "source_url", callbackURL: try body.string("callback_url"), dialect: .toapis
            )
            return WireJSON.response(Self.envelope(Self.asset(task.assets[0])))
        }
        group.get("assets/:asset_id") { _, context in
            let id = try context.parameters.require("asset_id")
            return WireJSON.response(Self.envelope(Self.asset(try await assets.asset(key: context.key, id: id))))
        }
    }

    /// The envelope: `{"success": true, "message": "", "data": ...}`.
    package static func envelope(_ data: JSONOut) -> JSONOut {
        .obj(["success": true, "message": "", "data": data])
    }

    /// Seed 001's asset fields first, in its order; then the name, the reason for a failure, and times.
    package static func asset(_ asset: Asset) -> JSONOut {
        .obj([
            "asset_id": .string(asset.id),
            "group_id": .string(asset.groupID),
            "asset_type": .string(asset.type.rawValue),
            "source_url": .string(asset.sourceURL),
            "status": .string(asset.status.rawValue),
            "name": .string(asset.name),
            "asset_url": .string(asset.assetURL),
            "error": asset.failure.map { .obj(["code": .string($0.code), "message": .string($0.message)]) },
            "task_id": asset.taskID.map(JSONOut.string),
            "created_at": .int(Int64(asset.createdAt.timeIntervalSince1970)),
            "updated_at": .int(Int64(asset.updatedAt.timeIntervalSince1970)),
        ])
    }

    package init(assets: AssetService) {
        self.assets = assets
    }
}
