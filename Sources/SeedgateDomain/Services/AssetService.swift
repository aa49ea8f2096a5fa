import Foundation
import SeedgateSupport

/// The asset operations every dialect calls. Dialects turn their wire JSON into these calls and the
/// results back into their JSON; every rule lives here or in `AssetRules`.
public struct AssetService: Sendable {
    package let store: any AssetStore
    package let urlGuard: URLGuard
    package let signal: WorkSignal
    package let prices: PriceTable
    /// Checks sources that are Seedgate's own links (uploads): valid, and the caller's.
    package let links: URLSigner?

    public init(store: any AssetStore, urlGuard: URLGuard, signal: WorkSignal, prices: PriceTable = .defaults, links: URLSigner? = nil) {
        self.links = links
        self.store = store
        self.urlGuard = urlGuard
        self.signal = signal
        self.prices = prices
    }

    /// One asset of a submission, as the client wrote it, with the field paths for error messages.
    public struct Item: Sendable {
        public var url: String
        public var name: String?
        public var urlField: String
        public var nameField: String

        public init(url: String, name: String?, urlField: String, nameField: String) {
            self.url = url
            self.name = name
            self.urlField = urlField
            self.nameField = nameField
        }
    }

    public func createGroup(key: APIKey, name: String, description: String?, projectName: String?) async throws -> AssetGroup {
        let name = try AssetRules.groupName(name, field: "name")
        let description = try AssetRules.description(description, field: "description")
        let project = try AssetRules.projectName(projectName, field: "project_name")
        return try await store.createGroup(keyID: key.id, name: name, description: description, projectName: project)
    }

    /// Validates and stores a batch of assets for review; nothing is stored when any item is invalid.
    public func submit(
        key: APIKey, target: GroupTarget, projectName: String?, type: MediaType, items: [Item], countField: String,
        callbackURL: String? = nil, dialect: Dialect = .apimart
    ) async throws -> AssetReviewTask {
        try AssetRules.count(items.count, field: countField)
        let project = try AssetRules.projectName(projectName, field: "project_name")
        var inputs: [AssetInput] = []
        for item in items {
            let url = try urlGuard.checkSyntax(item.url, field: item.urlField).absoluteString
            try links?.checkOwnLink(url, field: item.urlField, keyID: key.id)
            let name = try AssetRules.name(item.name ?? AssetRules.defaultName(for: url), field: item.nameField)
            inputs.append(AssetInput(url: url, name: name))
        }
        let callback = try callbackURL.map { url throws(SeedgateError) in try urlGuard.checkSyntax(url, field: "callback_url").absoluteString }
        var target = target
        if case .new(let name, let description) = target {
            target = .new(
                name: try AssetRules.groupName(name, field: "group.name"),
                description: try AssetRules.description(description, field: "group.description")
            )
        }
        let task = try await store.submitAssets(
            keyID: key.id, target: target, projectName: project, type: type, inputs: inputs,
            callbackURL: callback, pricePerAsset: prices.assetReview, dialect: dialect
        )
        signal.notify()
        return task
    }

    public func asset(key: APIKey, id: String) async throws -> Asset {
        guard let asset = try await store.asset(id: id, keyID: key.id) else { throw SeedgateError.notFound("asset", id) }
        return asset
    }

    public func reviewTask(key: APIKey, id: String) async throws -> AssetReviewTask? {
        try await store.reviewTask(id: id, keyID: key.id)
    }
}
