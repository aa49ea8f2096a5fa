import Foundation
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

/// The local engine's asset review: fetch, probe, and hold the file to the asset library's rules,
/// as a careful upstream would before accepting media.
public struct LocalReviewer: AssetReviewer {
    package let fetcher: MediaFetcher
    package let scratchDirectory: String

    public init(fetcher: MediaFetcher, scratchDirectory: String) {
        self.fetcher = fetcher
        self.scratchDirectory = scratchDirectory
    }

    public func review(_ asset: Asset) async -> Result<MediaFacts, Failure> {
        await review(url: asset.sourceURL, declared: asset.type)
    }

    public func review(url: String, declared: MediaType) async -> Result<MediaFacts, Failure> {
        let path = "\(scratchDirectory)/review-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        do throws(Failure) {
            _ = try await fetcher.fetch(url, maxBytes: MediaRequirements.maxBytes(for: declared), what: declared, to: path)
            let facts = try await MediaProbe.probe(file: path)
            if let failure = MediaRequirements.check(facts, declared: declared) {
                return .failure(failure)
            }
            return .success(facts)
        } catch {
            return .failure(error)
        }
    }
}
