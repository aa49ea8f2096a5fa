import Foundation
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

/// The asset library relay: an asset that passed the local checks is created in an upstream account's
/// library (its group first, once per Seedgate group and channel) and followed until Active or Failed.
/// A group lives on one channel (the first it was bound to), so the assets used together in a
/// generation are all on the account that runs it.
extension ArkRelay {
    /// Whether assets go upstream at all.
    public var reviewsAssetsUpstream: Bool { !router.assetChannels.isEmpty }

    /// Binds `asset` upstream and waits for upstream's review. Success means Active on the group's channel.
    public func bind(_ asset: Asset) async -> Result<Void, Failure> {
        let channels = router.assetChannels
        let open = channels.filter { !router.isCooling($0.name) }
        let order = router.ordered(open.isEmpty ? channels : open)
        guard let best = order.first else {
            return .failure(Failure(code: "upstream_unavailable", message: "no upstream asset library is configured"))
        }
        var lastError = ""
        do {
            // The group's first asset pins it to the best channel; the rest of its assets follow, even
            // when reviewed at the same moment.
            var current = try await store.pinGroup(groupID: asset.groupID, channel: best.name, replacing: nil)
            if router.channel(named: current)?.assets == nil {
                current = try await store.pinGroup(groupID: asset.groupID, channel: best.name, replacing: current)
            }
            var tried: Set<String> = []
            while let channel = router.channel(named: current), let client = clients[current], let credentials = channel.assets {
                tried.insert(current)
                let upstreamGroup = try await store.groupBindings(groupID: asset.groupID).first { $0.channel == current }?.upstreamID
                // An unreachable library is tried three times before giving up on it.
                for attempt in 0..<3 {
                    do {
                        return try await bind(asset, on: channel, client: client, project: credentials.projectName, upstreamGroup: upstreamGroup)
                    } catch let error as ArkError {
                        switch error {
                        case .unavailable(let reason, _, let retryAfter):
                            router.failed(channel.name, retryAfter: retryAfter, reason: "asset library: \(reason)")
                            lastError = reason
                            try? await Task.sleep(for: .seconds(1 << attempt))
                        case .rejected(_, let code, let message):
                            return .failure(Failure(code: code, message: "the upstream asset library refused the asset: \(message)"))
                        }
                    }
                }
                // A group with nothing upstream yet may move to the next channel; one that has assets there may not.
                guard upstreamGroup == nil, let next = order.first(where: { !tried.contains($0.name) }) else { break }
                current = try await store.pinGroup(groupID: asset.groupID, channel: next.name, replacing: current)
            }
        } catch {
            return .failure(Failure(code: "internal_error", message: "could not record the asset's upstream binding"))
        }
        return .failure(Failure(code: "upstream_unavailable", message: "the upstream asset library could not be reached: \(lastError)"))
    }

    private func bind(_ asset: Asset, on channel: Channel, client: ArkClient, project: String, upstreamGroup: String?) async throws -> Result<Void, Failure> {
        let groupID: String
        if let upstreamGroup {
            groupID = upstreamGroup
        } else {
            let group = try await store.group(id: asset.groupID, keyID: asset.keyID)
            // A real-person group exists upstream only as the one a liveness check made; it is never made
            // here as a plain group (one verified locally, before this channel existed, has none upstream).
            if group?.groupType == GroupType.livenessFace {
                return .failure(Failure(code: "group_not_upstream", message: "this real-person group was verified by Seedgate, not by the upstream account '\(channel.name)'; verify the person again on that account to use its assets there"))
            }
            await router.pace(channel.name)
            let result = try await client.assetAction("CreateAssetGroup", .obj([
                "Name": .string(String((group?.name ?? asset.groupID).prefix(64))),
                "Description": .string(String((group?.description ?? "").prefix(300))),
                "GroupType": "AIGC",
                "ProjectName": .string(project),
            ]))
            guard let id = result["Id"]?.stringValue else { throw ArkError.unavailable("CreateAssetGroup answered without an Id") }
            groupID = try await store.bindGroup(groupID: asset.groupID, channel: channel.name, upstreamID: id)
        }
        var binding = try await store.assetBinding(assetID: asset.id, channel: channel.name)
        if binding == nil || binding?.status == "failed" {
            await router.pace(channel.name)
            let result = try await client.assetAction("CreateAsset", .obj([
                "GroupId": .string(groupID),
                "URL": .string(asset.sourceURL),
                "AssetType": .string(asset.type.capitalized),
                "Name": .string(asset.name),
                "ProjectName": .string(project),
            ]))
            guard let id = result["Id"]?.stringValue else { throw ArkError.unavailable("CreateAsset answered without an Id") }
            binding = AssetBinding(assetID: asset.id, channel: channel.name, upstreamID: id, status: "processing")
            try await store.saveAssetBinding(binding!)
        }
        guard var binding else { throw ArkError.unavailable("no binding") }
        router.succeeded(channel.name)
        let deadline = ContinuousClock.now + settings.assetReviewLimit
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: settings.assetPollInterval)
            await router.pace(channel.name)
            let reply = await Self.attempt { () throws(ArkError) in
                try await client.assetAction("GetAsset", .obj(["Id": .string(binding.upstreamID), "ProjectName": .string(project)]))
            }
            let info: JSONValue
            switch reply {
            case .success(let value): info = value
            case .failure(.unavailable(let reason, _, let retryAfter)):
                router.failed(channel.name, retryAfter: retryAfter, reason: "asset review status: \(reason)")
                continue
            case .failure(let error): throw error
            }
            switch info["Status"]?.stringValue {
            case "Active":
                binding.status = "active"
                try await store.saveAssetBinding(binding)
                return .success(())
            case "Failed":
                binding.status = "failed"
                try await store.saveAssetBinding(binding)
                return .failure(Failure(
                    code: info["Error"]?["Code"]?.stringValue ?? "upstream_review_failed",
                    message: "upstream review failed: \(info["Error"]?["Message"]?.stringValue ?? "no reason given")"
                ))
            default:
                continue
            }
        }
        return .failure(Failure(code: "upstream_review_timeout",
                                message: "the upstream asset library did not finish reviewing within \(settings.assetReviewLimit.components.seconds) s"))
    }

    /// The outcome of one upstream call as a value. (Catching `ArkError.unavailable(...)` by pattern
    /// around a typed-throws call crashed the Swift 6.3 compiler; a `Result` switch does not.)
    package static func attempt<T: Sendable>(_ call: () async throws(ArkError) -> T) async -> Result<T, ArkError> {
        do throws(ArkError) { return .success(try await call()) } catch { return .failure(error) }
    }
}
