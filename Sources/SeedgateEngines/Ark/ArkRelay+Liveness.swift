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
        var refusal: String?
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
            case .failure(.rejected(let status, let code, let message)):
                // The account refused: the next account may not. Only a refused key or an overdue account
                // cools the channel (its video work would be refused too); a refusal of this action alone
                // (an account not enabled for liveness, say) leaves the channel's other work alone.
                if status == 401 || status == 403 {
                    router.failed(channel.name, retryAfter: 60, reason: "liveness refused: HTTP \(status) \(code)")
                }
                refusal = "\(code): \(message)"
                lastError = "\(channel.name) refused: \(code): \(message)"
            }
        }
        logger.warning("no channel could start a real-person verification", metadata: ["error": "\(lastError)"])
        if let refusal {
            throw SeedgateError(.serviceUnavailable, code: "upstream_refused",
                                message: "no upstream account would start a real-person verification (upstream said \(refusal))", retryAfter: 60)
        }
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
        case .failure(.rejected(let status, let code, let message)):
            let lower = code.lowercased()
            // A refused key or an overdue account says nothing of the person: asked again later.
            if status == 401 || status == 403 || lower.contains("accountoverdue") {
                router.failed(name, retryAfter: nil, reason: "liveness result refused: HTTP \(status) \(code)")
                return .unavailable("upstream refused the account: \(code): \(message)")
            }
            if lower.contains("expired") { return .expired("upstream: \(message)") }
            if ["notfinish", "processing", "pending", "inprogress"].contains(where: lower.contains) { return .pending }
            return .failed(Failure(code: code, message: "the liveness check did not pass: \(message)"))
        }
    }
}
