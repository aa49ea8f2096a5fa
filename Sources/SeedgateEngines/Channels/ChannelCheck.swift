import AsyncHTTPClient
import Foundation
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

/// `seedgate channels check`: one harmless call per credential of each channel.
public enum ChannelCheck {
    public struct Result: Sendable {
        public var channel: String
        public var ok: Bool
        public var line: String
    }

    public static func run(_ channels: [Channel], http: HTTPClient, timeout: Duration) async -> [Result] {
        var results: [Result] = []
        for channel in channels {
            guard channel.kind == .ark else {
                results.append(Result(channel: channel.name, ok: true, line: "\(channel.name)\tlocal engine\tok"))
                continue
            }
            let client = ArkClient(channel: channel, http: http, timeout: timeout)
            var ok = true
            var parts = [channel.name]
            do throws(ArkError) {
                _ = try await client.tasks(ids: [])
                parts.append("tasks: ok")
            } catch {
                ok = false
                parts.append("tasks: FAILED (\(error.description))")
            }
            if channel.assets != nil {
                do throws(ArkError) {
                    _ = try await client.assetAction("ListAssetGroups", .obj(["PageNumber": 1, "PageSize": 1]))
                    parts.append("assets: ok")
                } catch {
                    ok = false
                    parts.append("assets: FAILED (\(error.description))")
                }
            } else {
                parts.append("assets: not configured")
            }
            results.append(Result(channel: channel.name, ok: ok, line: parts.joined(separator: "\t")))
        }
        return results
    }
}
