import Foundation
import SeedgateBlobs
import SeedgateDomain

/// The small picture the console shows for an asset, made from the file the review fetched: the image
/// itself, a video's frame at one second, or an audio file's waveform; a video's and an audio file's
/// length is written on it. Kept in the blob store at `Asset.thumbnailKey`.
package enum Thumbnail {
    /// The ffmpeg arguments that draw `facts`'s file at `input` into the JPEG `output`.
    package static func arguments(input: String, facts: MediaFacts, output: String) -> [String] {
        let fit = "scale=240:240:force_original_aspect_ratio=decrease:flags=bilinear"
        let length = facts.duration.map { String(format: "%.1f s", $0) }
        func label(_ text: String) -> String {
            "drawtext=text='\(text)':fontcolor=white:fontsize=14:box=1:boxcolor=black@0.55:boxborderw=4:x=w-text_w-6:y=h-text_h-6"
        }
        var args = ["-v", "error", "-nostdin", "-y"]
        switch facts.kind {
        case .image:
            args += ["-i", input, "-vf", fit]
        case .video:
            let at = min(1, (facts.duration ?? 0) / 2)
            args += ["-ss", String(format: "%.2f", at), "-i", input, "-vf", ([fit] + (length.map { [label($0)] } ?? [])).joined(separator: ",")]
        case .audio:
            let wave = "[0:a]aformat=channel_layouts=mono,showwavespic=s=240x72:colors=0x7dd3fc:scale=sqrt[w];color=c=0x0f172a:s=240x72[bg];[bg][w]overlay=format=auto"
            args += ["-i", input, "-filter_complex", wave + (length.map { "," + label($0) } ?? "")]
        }
        return args + ["-frames:v", "1", "-q:v", "5", "-f", "image2", output]
    }

    /// Makes the asset's thumbnail and stores it; a file ffmpeg cannot draw simply has none.
    package static func make(assetID: String, from input: String, facts: MediaFacts, scratch: String, blobs: any BlobStore) async {
        let output = "\(scratch)/thumb-\(UUID().uuidString).jpg"
        defer { try? FileManager.default.removeItem(atPath: output) }
        guard let made = try? await ProcessRunner.run("ffmpeg", arguments(input: input, facts: facts, output: output), timeout: .seconds(30)),
              made.status == 0, FileManager.default.fileExists(atPath: output) else { return }
        try? await blobs.put(file: output, key: Asset.thumbnailKey(id: assetID))
    }
}
