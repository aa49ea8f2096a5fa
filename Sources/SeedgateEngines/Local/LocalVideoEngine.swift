import Foundation
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

/// The local engine's video generation: fetch and probe every input under the asset library's limits,
/// then render with ffmpeg and put the results in the blob store.
public struct LocalVideoEngine: Sendable {
    package let fetcher: MediaFetcher
    package let blobs: any BlobStore
    package let scratchDirectory: String

    /// Render time per output second, and blob store failures.
    package let telemetry: Telemetry

    public init(fetcher: MediaFetcher, blobs: any BlobStore, scratchDirectory: String, telemetry: Telemetry = .disabled) {
        self.fetcher = fetcher
        self.blobs = blobs
        self.scratchDirectory = scratchDirectory
        self.telemetry = telemetry
    }

    /// Reference inputs may total at most this many seconds per kind (seed 002).
    package static let maxReferenceSeconds = 15.0

    /// Renders `task`. `resolve` turns an input into the URL to fetch (an `asset://` input into its
    /// asset's source). `progress` returns false when the render should stop.
    public func render(
        _ task: VideoTask,
        resolve: @Sendable (MediaInput) async throws(Failure) -> String,
        progress: @escaping @Sendable (Int) async -> Bool
    ) async throws(Failure) -> VideoResult {
        let scratch = "\(scratchDirectory)/render-\(task.id)-\(UUID().uuidString.prefix(8))"
        do {
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        } catch {
            throw Failure(code: "internal_error", message: "could not make a scratch directory")
        }
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        let request = task.request
        func prepare(_ input: MediaInput, as type: MediaType, _ n: Int) async throws(Failure) -> PreparedInput {
            let url = try await resolve(input)
            let path = "\(scratch)/input-\(type.rawValue)-\(n)"
            do throws(Failure) {
                _ = try await fetcher.fetch(url, maxBytes: MediaRequirements.maxBytes(for: type), what: type, to: path)
                let facts = try await MediaProbe.probe(file: path)
                if let failure = MediaRequirements.check(facts, declared: type) { throw failure }
                if type == .image && (facts.format == "heic" || facts.format == "heif") {
                    throw Failure(code: "unsupported_format", message: "HEIC/HEIF images cannot be rendered by the local engine; use jpeg or png")
                }
                return PreparedInput(path: path, facts: facts)
            } catch {
                throw Failure(code: error.code, message: "\(input.field): \(error.message)")
            }
        }
        var images: [(MediaInput, PreparedInput)] = []
        for (n, input) in request.images.enumerated() { images.append((input, try await prepare(input, as: .image, n))) }
        var videos: [PreparedInput] = []
        for (n, input) in request.videos.enumerated() { videos.append(try await prepare(input, as: .video, n)) }
        var audios: [PreparedInput] = []
        for (n, input) in request.audios.enumerated() { audios.append(try await prepare(input, as: .audio, n)) }
        let slack = MediaRequirements.durationSlack
        let videoSeconds = videos.compactMap(\.facts.duration).reduce(0, +)
        if videoSeconds > Self.maxReferenceSeconds + slack {
            throw Failure(code: "reference_duration_exceeded", message: "video_urls: reference videos total \(MediaRequirements.fmt(videoSeconds)) s; at most 15 s in all")
        }
        let audioSeconds = audios.compactMap(\.facts.duration).reduce(0, +)
        if audioSeconds > Self.maxReferenceSeconds + slack {
            throw Failure(code: "reference_duration_exceeded", message: "audio_urls: reference audio totals \(MediaRequirements.fmt(audioSeconds)) s; at most 15 s in all")
        }
        _ = await progress(5)

        let firstVisual = images.first?.1.facts ?? videos.first?.facts
        let aspect = firstVisual.flatMap { facts -> Double? in
            guard let w = facts.width, let h = facts.height, h > 0 else { return nil }
            return Double(w) / Double(h)
        }
        let (width, height) = VideoRenderer.dimensions(resolution: request.resolution, size: request.size, adaptiveAspect: aspect)
        let plan = RenderPlan(
            width: width, height: height, duration: request.duration, seed: task.seed, prompt: request.prompt,
            firstFrame: images.first { $0.0.role == .firstFrame }?.1,
            lastFrame: images.first { $0.0.role == .lastFrame }?.1,
            referenceImages: images.filter { $0.0.role == .referenceImage }.map(\.1),
            referenceVideos: videos, referenceAudios: audios,
            generateAudio: request.generateAudio, returnLastFrame: request.returnLastFrame
        )
        let renderStarted = ContinuousClock.now
        let rendered = try await VideoRenderer.render(plan, scratch: scratch, progress: progress)
        let renderTime = ContinuousClock.now - renderStarted
        telemetry.record("seedgate_render_seconds_per_output_second", [("resolution", request.resolution)],
                         (renderTime / .seconds(1)) / Double(max(1, request.duration)))
        let videoKey = "videos/\(task.id).mp4"
        let frameKey = rendered.lastFrame.map { _ in "frames/\(task.id).png" }
        do {
            try await blobs.put(file: rendered.video, key: videoKey)
            if let frame = rendered.lastFrame, let frameKey { try await blobs.put(file: frame, key: frameKey) }
        } catch {
            telemetry.count("seedgate_blob_store_errors_total", [("operation", "put")])
            throw Failure(code: "internal_error", message: "could not store the result")
        }
        return VideoResult(videoKey: videoKey, lastFrameKey: frameKey, width: width, height: height,
                           seconds: Double(request.duration), hasAudio: plan.hasAudio)
    }
}
