import AsyncHTTPClient
import Foundation
import Logging
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

/// Copying a finished upstream result into our blob store before upstream's 24 h links expire.
extension ArkRelay {
    package func copyResult(_ info: ArkTask, of task: VideoTask, owner: String) async {
        let scratch = "\(scratchDirectory)/copy-\(task.id)-\(Identifiers.random(6))"
        defer {
            try? FileManager.default.removeItem(atPath: "\(scratch).mp4")
            try? FileManager.default.removeItem(atPath: "\(scratch).png")
        }
        do throws(Failure) {
            guard let videoURL = info.videoURL else {
                throw Failure(code: "result_unavailable", message: "upstream finished the task but gave no video URL (its links last 24 h)")
            }
            _ = try await fetcher.fetch(videoURL, maxBytes: 4 << 30, what: .video, to: "\(scratch).mp4")
            let facts = try await MediaProbe.probe(file: "\(scratch).mp4")
            guard facts.kind == .video, let width = facts.width, let height = facts.height else {
                throw Failure(code: "result_unavailable", message: "upstream's result is not a playable video")
            }
            var frameKey: String?
            if task.request.returnLastFrame, let frameURL = info.lastFrameURL {
                _ = try await fetcher.fetch(frameURL, maxBytes: MediaRequirements.maxBytes(for: .image), what: .image, to: "\(scratch).png")
                frameKey = "frames/\(task.id).png"
            }
            let videoKey = "videos/\(task.id).mp4"
            do {
                try await blobs.put(file: "\(scratch).mp4", key: videoKey)
                if let frameKey { try await blobs.put(file: "\(scratch).png", key: frameKey) }
            } catch {
                throw Failure(code: "internal_error", message: "could not store the result")
            }
            let seconds = facts.duration ?? Double(task.request.duration)
            let result = VideoResult(videoKey: videoKey, lastFrameKey: frameKey, width: width, height: height, seconds: seconds, hasAudio: facts.hasAudio)
            let recorded = (try? await store.finishVideoTask(
                taskID: task.id, owner: owner, outcome: .success(result), cost: prices.cost(for: task.request, seconds: seconds),
                usageTokens: info.completionTokens ?? info.totalTokens, cancelled: false
            )) ?? false
            if !recorded {
                try? await blobs.delete(key: videoKey)
                if let frameKey { try? await blobs.delete(key: frameKey) }
            }
            logger.info("upstream task completed", metadata: ["task": "\(task.id)", "recorded": "\(recorded)"])
        } catch {
            let failures = (try? await store.countCopyFailure(taskID: task.id, owner: owner)) ?? 0
            logger.warning("could not copy an upstream result", metadata: ["task": "\(task.id)", "error": "\(error.message)", "failures": "\(failures)"])
            // `attempts` starts again at 0 once upstream accepts the task: six copies are tried in all.
            if failures > 5 || error.code == "result_unavailable" {
                let reason = error.code == "result_unavailable" ? error.message : "could not copy upstream's result: \(error.message)"
                await finish(task, owner: owner, .failure(Failure(code: "result_unavailable", message: reason)))
            } else {
                try? await store.reschedulePoll(task: task, owner: owner, upstreamStatus: "succeeded", progress: 99,
                                                next: store.clock.now.addingTimeInterval(settings.pollDelay(after: failures).seconds))
            }
        }
    }
}
