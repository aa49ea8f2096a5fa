import Foundation
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

/// The local engine's asset review: fetch, probe, and hold the file to the asset library's rules,
/// as a careful upstream would before accepting media.
public struct LocalReviewer: AssetReviewer {
    package let fetcher: MediaFetcher
    package let scratchDirectory: String
    /// Where an Active asset's thumbnail goes (see `Thumbnail`); none are made without it.
    package let thumbnails: (any BlobStore)?

    public init(fetcher: MediaFetcher, scratchDirectory: String, thumbnails: (any BlobStore)? = nil) {
        self.fetcher = fetcher
        self.scratchDirectory = scratchDirectory
        self.thumbnails = thumbnails
    }

    public func review(_ asset: Asset) async -> Result<MediaFacts, Failure> {
        await review(url: asset.sourceURL, declared: asset.type) { file, facts in
            guard let thumbnails else { return }
            await Thumbnail.make(assetID: asset.id, from: file, facts: facts, scratch: scratchDirectory, blobs: thumbnails)
        }
    }

    /// Fetches, probes and checks the file at `url`; `accepted` sees the file while it is still on disk.
    public func review(
        url: String, declared: MediaType, accepted: (_ file: String, _ facts: MediaFacts) async -> Void = { _, _ in }
    ) async -> Result<MediaFacts, Failure> {
        let path = "\(scratchDirectory)/review-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        do throws(Failure) {
            _ = try await fetcher.fetch(url, maxBytes: MediaRequirements.maxBytes(for: declared), what: declared, to: path)
            let facts = try await MediaProbe.probe(file: path)
            if let failure = MediaRequirements.check(facts, declared: declared) {
                return .failure(failure)
            }
            await accepted(path, facts)
            return .success(facts)
        } catch {
            return .failure(error)
        }
    }
}
