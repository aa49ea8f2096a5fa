import Foundation
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

/// The local engine as the video worker sees it: every task is rendered here, with ffmpeg, and its
/// lease renewed with each progress report.
public struct LocalEngine: VideoEngine {
    package let renderer: LocalVideoEngine
    package let store: any VideoTaskStore & AssetStore
    package let lease: Duration
    /// A task whose render was cut short this many times (its server died each time) is failed.
    package static let maxAttempts = 3

    public init(renderer: LocalVideoEngine, store: any VideoTaskStore & AssetStore, lease: Duration) {
        self.renderer = renderer
        self.store = store
        self.lease = lease
    }

    /// Every model renders here. Of Ark's own parameters, those the renderer cannot honour are refused
    /// by name rather than dropped.
    public func checkRoutable(_ request: GenerationRequest) async throws {
        try Self.checkArkOptions(request)
    }

    /// The local engine renders whole seconds at 24 fps, one MP4, with no draft mode.
    package static func checkArkOptions(_ request: GenerationRequest) throws(SeedgateError) {
        guard let ark = request.ark else { return }
        if let frames = ark.frames, frames % 24 != 0 {
            throw .invalid("frames", "the local engine renders whole seconds at 24 fps; give a multiple of 24 (\(frames) is not), or duration")
        }
        if ark.draft == true { throw .invalid("draft", "the local engine has no draft mode; send draft: false or leave it out") }
        if let format = ark.outputFormat, format != "mp4" {
            throw .invalid("output_format", "the local engine renders mp4 only, not '\(Quote.short(format))'")
        }
        if let type = ark.omniReferenceTaskType {
            throw .invalid("omni_reference_task_type", "the local engine has no omni-reference task types ('\(Quote.short(type))'); leave it out")
        }
    }

    /// A render stops at its next progress report once the store marks the task cancelled.
    public func cancel(_ task: VideoTask) async throws {}

    public func start(_ task: VideoTask, owner: String) async throws -> EngineStart {
        guard try await store.attempts(taskID: task.id) <= Self.maxAttempts else {
            return .finished(.failure(Failure(code: "render_failed", message: "the render was interrupted \(Self.maxAttempts) times; giving up")))
        }
        do throws(SeedgateError) {
            try Self.checkArkOptions(task.request)
        } catch {
            // Routed here by a gateway whose Ark channels could not take it.
            return .finished(.failure(Failure(code: error.code, message: error.message)))
        }
        let store = self.store, keyID = task.keyID, lease = self.lease
        do throws(Failure) {
            let result = try await renderer.render(task, resolve: { input throws(Failure) in
                guard let id = input.assetID else { return input.url }
                let asset: Asset?
                do { asset = try await store.activeAsset(id: id, keyID: keyID) } catch {
                    throw Failure(code: "internal_error", message: "could not read asset \(id)")
                }
                guard let asset else { throw Failure(code: "asset_not_active", message: "\(input.field): asset '\(id)' is no longer active") }
                return asset.sourceURL
            }, progress: { percent in
                (try? await store.reportProgress(taskID: task.id, owner: owner, progress: percent, lease: lease)) ?? true
            })
            return .finished(.success(result))
        } catch {
            return .finished(.failure(error))
        }
    }
}
