import Foundation
import Hummingbird
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

/// crun's asset API (seeds 003, 004): upload into the key's default group (or `group_id`'s), and asset info.
/// Envelope `{"code", "message", "data"}` with PascalCase data fields.
package struct CrunRoutes {
    package let assets: AssetService

    package func register(on group: RouterGroup<AuthenticatedContext>) {
        group.post("asset-upload") { request, context in
            let body = try await JSONFields.parse(request, context: context)
            try body.rejectUnknown(["name", "asset_type", "asset_url", "callback_url", "group_id"])
            let name = try body.requiredString("name")
            // Into the key's default group, or a group of its own (a real-person group from a verification).
            let target: GroupTarget = try body.string("group_id").map { .existing(id: $0) } ?? .keyDefault
            let type = try AssetRules.mediaType(try body.string("asset_type"), field: "asset_type")
            let url = try body.requiredString("asset_url")
            let task = try await assets.submit(
                key: context.key, target: target, projectName: nil, type: type,
                items: [.init(url: url, name: name, urlField: "asset_url", nameField: "name")], countField: "asset_url",
                callbackURL: try body.string("callback_url"), dialect: .crun
            )
            return WireJSON.response(Self.envelope(.obj(["AssetId": .string(task.assets[0].id)])))
        }
        group.get("asset-info") { request, context in
            guard let id = request.uri.queryParameters.get("asset_id"), !id.isEmpty else {
                throw SeedgateError.missing("asset_id")
            }
            return WireJSON.response(Self.envelope(Self.assetInfo(try await assets.asset(key: context.key, id: id))))
        }
    }

    /// The envelope: `{"code": 200, "message": "success", "data": ...}`.
    package static func envelope(_ data: JSONOut) -> JSONOut {
        .obj(["code": 200, "message": "success", "data": data])
    }

    package static func assetInfo(_ asset: Asset) -> JSONOut {
        .obj([
            "AssetId": .string(asset.id),
            "Name": .string(asset.name),
            "AssetType": .string(asset.type.capitalized),
            "Status": .string(asset.status.capitalized),
            "URL": .string(asset.sourceURL),
            "CreateTime": .string(asset.createdAt.formatted(.iso8601)),
            "UpdateTime": .string(asset.updatedAt.formatted(.iso8601)),
            "GroupId": .string(asset.groupID),
            "Error": asset.failure.map { .obj(["Code": .string($0.code), "Message": .string($0.message)]) },
        ])
    }

    package init(assets: AssetService) {
        self.assets = assets
    }
}
