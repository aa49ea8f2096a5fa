import Foundation
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

/// A fetched and probed input file.
package struct PreparedInput: Sendable {
    package var path: String
    package var facts: MediaFacts
}

/// Everything one render needs, resolved: output size, inputs on disk, options.
package struct RenderPlan: Sendable {
    package var width: Int
    package var height: Int
    package var duration: Int
    package var seed: Int64
    package var prompt: String?
    package var firstFrame: PreparedInput?
    package var lastFrame: PreparedInput?
    package var referenceImages: [PreparedInput]
    package var referenceVideos: [PreparedInput]
    package var referenceAudios: [PreparedInput]
    package var generateAudio: Bool
    package var returnLastFrame: Bool

    package static let fps = 24
    package var hasAudio: Bool { generateAudio || !referenceAudios.isEmpty }
}

/// Renders a plan into an MP4 with ffmpeg: exactly `duration` seconds at 24 fps, H.264 yuv420p with
/// faststart, AAC audio exactly when asked for or given. Deterministic: the same plan and seed give the
/// same pixels (bit-exact flags, fixed threads, seeded sources only).
package enum VideoRenderer {
    /// Output size for a resolution and aspect: the short side is 480, 720 or 1080; both sides even.
    package static func dimensions(resolution: String, size: String, adaptiveAspect: Double?) -> (width: Int, height: Int) {
        let short = resolution == "1080p" ? 1080 : resolution == "720p" ? 720 : 480
        let ratio: Double
        if size == "adaptive" {
            ratio = adaptiveAspect.map { min(max($0, 0.4), 2.5) } ?? 16.0 / 9.0
        } else {
            let parts = size.split(separator: ":").compactMap { Double($0) }
            ratio = parts.count == 2 && parts[1] > 0 ? parts[0] / parts[1] : 16.0 / 9.0
        }
        func even(_ value: Double) -> Int { max(2, Int((value / 2).rounded()) * 2) }
        return ratio >= 1 ? (even(Double(short) * ratio), short) : (short, even(Double(short) / ratio))
    }

    /// The ffmpeg arguments for `plan`, writing `output` (and, given `lastFrame`, the clip's last frame
    /// as a PNG, taken from the same pass), reporting progress to `progressFile`.
    package static func arguments(_ plan: RenderPlan, output: String, progressFile: String, textFile: String?, lastFrame: String? = nil) -> [String] {
        let w = plan.width, h = plan.height, d = plan.duration
        var inputs: [String] = []
        var graph: [String] = []
        var index = 0
        let frames = d * RenderPlan.fps
        // A still image is decoded and scaled once, then its one frame repeated (`loop`) for the clip,
        // on a 1/24 s time base of its own (no `-framerate`, which the APNG reader refuses: an animated
        // PNG is probed as a PNG and shows its first frame). An animated GIF plays as its file says
        // (on repeat, or once) and is scaled frame by frame; one that ends early holds its last frame.
        func addImage(_ input: PreparedInput) -> (index: Int, animated: Bool) {
            let animated = input.facts.format == "gif"
            inputs += animated ? ["-ignore_loop", "0", "-i", input.path] : ["-i", input.path]
            defer { index += 1 }
            return (index, animated)
        }
        func addLooping(_ input: PreparedInput) -> Int {
            inputs += ["-stream_loop", "-1", "-i", input.path]
            defer { index += 1 }
            return index
        }
        func scaled(_ i: Int, _ cw: Int, _ ch: Int) -> String {
            "[\(i):v]scale=\(cw):\(ch):force_original_aspect_ratio=increase:flags=bilinear,crop=\(cw):\(ch),setsar=1"
        }
        /// A moving input covering cw x ch for `seconds`; `hold`: its last frame held should it end sooner.
        func moving(_ i: Int, _ cw: Int, _ ch: Int, seconds: Double, hold: Bool = false) -> String {
            "\(scaled(i, cw, ch)),fps=\(RenderPlan.fps),format=yuv420p\(hold ? ",\(Self.holdLast)" : ""),trim=duration=\(seconds),setpts=PTS-STARTPTS"
        }
        /// An image covering cw x ch for `count` frames at 24 fps.
        func image(_ image: (index: Int, animated: Bool), _ cw: Int, _ ch: Int, count: Int) -> String {
            guard !image.animated else { return moving(image.index, cw, ch, seconds: Double(count) / Double(RenderPlan.fps), hold: true) }
            return "\(scaled(image.index, cw, ch)),format=yuv420p,\(Self.repeated(count))"
        }
        let seed = UInt64(truncatingIfNeeded: plan.seed)

        if let first = plan.firstFrame, let last = plan.lastFrame {
            // First to last frame: a cross-fade over the whole clip, ending on the last image (the last
            // image faded in over the first: overlay's blend costs a third of xfade's).
            let a = addImage(first), b = addImage(last)
            graph.append("\(image(a, w, h, count: frames))[fa]")
            graph.append("\(image(b, w, h, count: frames)),format=yuva420p,fade=in:st=0.25:d=\(Double(d) - 0.5):alpha=1[fb]")
            graph.append("[fa][fb]overlay=format=yuv420:shortest=1[base]")
        } else if let video = plan.referenceVideos.first {
            // Reference video: the moving background; a reference image, if any, inset in a corner.
            let v = addLooping(video)
            graph.append("\(moving(v, w, h, seconds: Double(d)))[bg]")
            if let inset = plan.referenceImages.first {
                let i = addImage(inset)
                let ih = max(2, h / 3 / 2 * 2)
                let scale = "[\(i.index):v]scale=-2:\(ih):flags=bilinear,setsar=1,format=yuva420p"
                graph.append(i.animated ? "\(scale),fps=\(RenderPlan.fps),\(Self.holdLast)[pip]" : "\(scale),\(Self.repeated(frames))[pip]")
                graph.append("[bg][pip]overlay=\(w / 24):\(h / 24):shortest=1[base]")
            } else {
                graph.append("[bg]null[base]")
            }
        } else if let still = plan.firstFrame ?? plan.referenceImages.first {
            // One image, animated: a slow pan across it, slightly enlarged.
            let i = addImage(still)
            let (zw, zh) = (w * 6 / 5 / 2 * 2, h * 6 / 5 / 2 * 2)
            graph.append("\(image(i, zw, zh, count: frames)),crop=\(w):\(h):x='(iw-ow)*t/\(d)':y='(ih-oh)*t/\(d)'[base]")
        } else {
            // Text only: a moving gradient whose colours come from the seed, drawn at a quarter of the
            // size (a gradient has no detail to lose) and scaled up.
            let colors = (0..<3).map { k in String(format: "0x%06x", (seed &* 2_654_435_761 &+ UInt64(k) &* 40_503) & 0x7F7F7F | 0x202020) }
            let (gw, gh) = (max(2, w / 4 / 2 * 2), max(2, h / 4 / 2 * 2))
            inputs += ["-f", "lavfi", "-i", "gradients=s=\(gw)x\(gh):c0=\(colors[0]):c1=\(colors[1]):c2=\(colors[2]):nb_colors=3:seed=\(seed % 4_294_967_295):speed=0.03:r=\(RenderPlan.fps):d=\(d)"]
            graph.append("[\(index):v]format=yuv420p,scale=\(w):\(h):flags=bilinear,setsar=1[base]")
            index += 1
        }

        let finished = lastFrame == nil ? "[v]" : "[out]"
        if let textFile {
            let size = max(16, h / 18)
            graph.append("[base]drawtext=textfile=\(textFile):fontcolor=white:fontsize=\(size):line_spacing=\(size / 4):box=1:boxcolor=black@0.45:boxborderw=\(size / 2):x=(w-text_w)/2:y=h-text_h-\(h / 12),format=yuv420p\(finished)")
        } else {
            graph.append("[base]format=yuv420p\(finished)")
        }
        if lastFrame != nil {
            graph.append("[out]split[v][tail]")
            graph.append("[tail]select='eq(n\\,\(frames - 1))'[last]")
        }

        var audioMap: [String] = []
        if !plan.referenceAudios.isEmpty {
            // Reference audio is the soundtrack: the files in order, padded or cut to the duration.
            var labels = ""
            for (k, audio) in plan.referenceAudios.enumerated() {
                inputs += ["-i", audio.path]
                graph.append("[\(index):a]aresample=44100,aformat=sample_fmts=fltp:channel_layouts=stereo[ra\(k)]")
                labels += "[ra\(k)]"
                index += 1
            }
            let joined = plan.referenceAudios.count > 1 ? "\(labels)concat=n=\(plan.referenceAudios.count):v=0:a=1," : labels
            graph.append("\(joined)apad,atrim=0:\(d),asetpts=N/SR/TB[a]")
            audioMap = ["-map", "[a]"]
        } else if plan.generateAudio {
            // Generated audio: a soft two-tone chord that depends on the seed.
            let f1 = 196 + Int(seed % 200), f2 = f1 * 3 / 2
            inputs += ["-f", "lavfi", "-i", "aevalsrc='0.15*sin(2*PI*\(f1)*t)+0.1*sin(2*PI*\(f2)*t)*(0.6+0.4*sin(2*PI*0.5*t))':s=44100:c=stereo:d=\(d)"]
            audioMap = ["-map", "\(index):a"]
            index += 1
        }

        var args = ["-v", "error", "-nostdin", "-y"] + inputs
        args += ["-filter_complex", graph.joined(separator: ";"), "-map", "[v]"] + audioMap
        // Length comes from `-t` (not `-frames:v`, which would end the file before the audio is written).
        args += ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "23", "-pix_fmt", "yuv420p", "-r", "\(RenderPlan.fps)", "-threads", "2"]
        if audioMap.isEmpty {
            args += ["-an"]
        } else {
            args += ["-c:a", "aac", "-b:a", "128k", "-ar", "44100"]
        }
        args += ["-t", "\(d)", "-movflags", "+faststart", "-map_metadata", "-1", "-fflags", "+bitexact",
                 "-flags:v", "+bitexact", "-flags:a", "+bitexact", "-progress", progressFile, "-nostats", output]
        if let lastFrame {
            args += ["-map", "[last]", "-frames:v", "1", "-update", "1", "-f", "image2", lastFrame]
        }
        return args
    }

    /// A still's one frame, `count` times, at 24 frames a second whatever rate its reader gave it.
    static func repeated(_ count: Int) -> String {
        "loop=loop=\(count - 1):size=1:start=0,settb=1/\(RenderPlan.fps),setpts=N"
    }

    /// Holds a stream's last frame for good (a GIF that plays once, or loops a few times).
    static let holdLast = "tpad=stop=-1:stop_mode=clone"

    /// Wraps a prompt into lines that fit the frame, at most a few lines (the rest is elided).
    package static func wrap(_ text: String, width: Int, height: Int) -> String {
        let fontSize = max(16, height / 18)
        let perLine = max(10, Int(Double(width) * 0.9 / (Double(fontSize) * 0.6)))
        var lines: [String] = []
        var current = ""
        for word in text.split(whereSeparator: \.isWhitespace) {
            var word = String(word)
            while word.count > perLine {
                if !current.isEmpty { lines.append(current); current = "" }
                lines.append(String(word.prefix(perLine)))
                word = String(word.dropFirst(perLine))
            }
            if current.isEmpty { current = word } else if current.count + 1 + word.count <= perLine { current += " " + word } else {
                lines.append(current)
                current = word
            }
        }
        if !current.isEmpty { lines.append(current) }
        if lines.count > 4 { lines = Array(lines.prefix(4)); lines[3] = String(lines[3].prefix(perLine - 1)) + "…" }
        return lines.joined(separator: "\n")
    }

    /// Runs ffmpeg for `plan`. `progress` receives 0...100 about twice a second and returns false to stop
    /// the render (the task was cancelled or taken over).
    package static func render(
        _ plan: RenderPlan, scratch: String, progress: @escaping @Sendable (Int) async -> Bool
    ) async throws(Failure) -> (video: String, lastFrame: String?) {
        let output = "\(scratch)/out.mp4"
        let progressFile = "\(scratch)/progress.txt"
        var textFile: String?
        if let prompt = plan.prompt, !prompt.isEmpty {
            let path = "\(scratch)/prompt.txt"
            // drawtext expands % sequences in text files; double them so a prompt is drawn as written.
            let text = wrap(prompt, width: plan.width, height: plan.height).replacingOccurrences(of: "%", with: "%%")
            _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
            textFile = path
        }
        let lastFrame = plan.returnLastFrame ? "\(scratch)/last.png" : nil
        let args = arguments(plan, output: output, progressFile: progressFile, textFile: textFile, lastFrame: lastFrame)
        let duration = Double(plan.duration)
        let outcome: ProcessRunner.Output
        do {
            outcome = try await withThrowingTaskGroup(of: ProcessRunner.Output?.self) { group in
                group.addTask { try await ProcessRunner.run("ffmpeg", args, timeout: .seconds(600)) }
                group.addTask {
                    while !Task.isCancelled {
                        try await Task.sleep(for: .milliseconds(500))
                        let seconds = Self.renderedSeconds(progressFile)
                        guard await progress(5 + Int(90 * min(1, seconds / duration))) else { throw CancellationError() }
                    }
                    return nil
                }
                while let result = try await group.next() {
                    if let result {
                        group.cancelAll()
                        return result
                    }
                }
                throw CancellationError()
            }
        } catch is CancellationError {
            throw Failure(code: "cancelled", message: "the render was stopped")
        } catch {
            throw Failure(code: "render_failed", message: "could not run ffmpeg: \(error)")
        }
        guard outcome.status == 0 else {
            let detail = String(decoding: outcome.stderr.suffix(600), as: UTF8.self)
            throw Failure(code: "render_failed", message: "ffmpeg failed (\(outcome.status)): \(detail)")
        }
        guard let lastFrame else { return (output, nil) }
        if FileManager.default.fileExists(atPath: lastFrame) { return (output, lastFrame) }
        // The pass ended short of the last frame's number: take it from the file instead.
        let extracted = try? await ProcessRunner.run(
            "ffmpeg", ["-v", "error", "-nostdin", "-y", "-sseof", "-1", "-i", output, "-update", "1", "-f", "image2", lastFrame], timeout: .seconds(60)
        )
        guard extracted?.status == 0, FileManager.default.fileExists(atPath: lastFrame) else {
            throw Failure(code: "render_failed", message: "could not extract the last frame")
        }
        return (output, lastFrame)
    }

    package static func renderedSeconds(_ progressFile: String) -> Double {
        guard let text = try? String(contentsOfFile: progressFile, encoding: .utf8) else { return 0 }
        let last = text.split(separator: "\n").last { $0.hasPrefix("out_time_us=") || $0.hasPrefix("out_time_ms=") }
        guard let value = last?.split(separator: "=").last.flatMap({ Double($0) }) else { return 0 }
        return value / 1_000_000
    }
}
