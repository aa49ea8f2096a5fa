import Foundation
import SeedgateDomain
import SeedgateSupport

/// Real-person checks on an Ark channel: `CreateVisualValidateSession` starts one on the best channel
/// with asset-library credentials (its `BytedToken` and `H5Link` are upstream's, and the person completes
/// upstream's page), `GetVisualValidateResult` is asked until it gives the `LivenessFace` group, which
/// Seedgate then keeps pinned to that channel so its assets and the generations that use them go there.
extension ArkRelay: LivenessUpstream {
    public var runsLiveness: Bool { reviewsAssetsUpstream }

    public func startLiveness(projectName: String) async throws(SeedgateError) -> UpstreamLivenessSession {
        let channels = router.assetChannels
        let open = channels.filter { !router.isCooling($0.name) }
        var lastError = "no asset-library channel is configured"
        for channel in router.ordered(open.isEmpty ? channels : open) {
            guard let client = clients[channel.name], let credentials = channel.assets else { continue }
            await router.pace(channel.name)
            let reply = await Self.attempt { () throws(ArkError) in
                try await client.assetAction("CreateVisualValidateSession", .obj(["ProjectName": .string(credentials.projectName)]))
            }
            switch reply {
            case .success(let result):
                guard let token = result["BytedToken"]?.stringValue, let link = result["H5Link"]?.stringValue, !token.isEmpty, !link.isEmpty else {
                    lastError = "\(channel.name): CreateVisualValidateSession answered without BytedToken and H5Link"
                    router.failed(channel.name, retryAfter: nil, reason: lastError)
                    continue
                }
                router.succeeded(channel.name)
                return UpstreamLivenessSession(channel: channel.name, token: token, link: link)
            case .failure(.unavailable(let reason, _, let retryAfter)):
                router.failed(channel.name, retryAfter: retryAfter, reason: "liveness: \(reason)")
                lastError = reason
            case .failure(.rejected(_, let code, let message)):
                // The account refused (overdue, not enabled for liveness): the next account may not.
                router.failed(channel.name, retryAfter: nil, reason: "liveness refused: \(code) \(message)")
                lastError = "\(channel.name) refused: \(code): \(message)"
            }
        }
        logger.warning("no channel could start a real-person verification", metadata: ["error": "\(lastError)"])
        throw SeedgateError(.serviceUnavailable, code: "upstream_unavailable",
                            message: "no upstream account could start a real-person verification now; try again shortly", retryAfter: 10)
    }

    public func livenessOutcome(channel name: String, token: String, projectName: String) async -> UpstreamLivenessOutcome {
        guard let channel = router.channel(named: name), let client = clients[name], let credentials = channel.assets else {
            return .failed(Failure(code: "upstream_unavailable", message: "the channel '\(name)' that runs this verification is no longer configured"))
        }
        await router.pace(name)
        let reply = await Self.attempt { () throws(ArkError) in
            try await client.assetAction("GetVisualValidateResult", .obj([
                "BytedToken": .string(token), "ProjectName": .string(credentials.projectName),
            ]))
        }
        switch reply {
        case .success(let result):
            if let group = result["GroupId"]?.stringValue, !group.isEmpty { return .verified(upstreamGroupID: group) }
            switch result["Status"]?.stringValue?.lowercased() {
            case "failed", "fail", "rejected":
                return .failed(Failure(
                    code: result["Error"]?["Code"]?.stringValue ?? "liveness_failed",
                    message: "the liveness check did not pass: \(result["Error"]?["Message"]?.stringValue ?? "no reason given")"
                ))
            case "expired": return .expired("the person did not finish upstream's check in time")
            default: return .pending
            }
        case .failure(.unavailable(let reason, _, let retryAfter)):
            router.failed(name, retryAfter: retryAfter, reason: "liveness result: \(reason)")
            return .unavailable(reason)
        case .failure(.rejected(_, let code, let message)):
            let lower = code.lowercased()
            if lower.contains("expired") { return .expired("upstream: \(message)") }
            if ["notfinish", "processing", "pending", "inprogress"].contains(where: lower.contains) { return .pending }
            return .failed(Failure(code: code, message: "the liveness check did not pass: \(message)"))
        }
    }
}
