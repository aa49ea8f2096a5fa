import SeedgateSupport

/// The media requirements of the asset library (seeds 003 and 004), as pure functions of probed facts.
/// Parentheses in the seeds are exclusive bounds, brackets inclusive; each check below says which.
public enum MediaRequirements {
    public static let imageFormats = ["jpeg", "png", "webp", "bmp", "tiff", "gif", "heic", "heif"]
    public static let videoFormats = ["mp4", "mov"]
    public static let audioFormats = ["wav", "mp3"]

    package static let megabyte: Int64 = 1024 * 1024
    /// Images must be smaller than 30 MB; videos at most 50 MB; audio at most 15 MB.
    public static func maxBytes(for type: MediaType) -> Int64 {
        switch type {
        case .image: 30 * megabyte - 1
        case .video: 50 * megabyte
        case .audio: 15 * megabyte
        }
    }

    /// Durations are measured from containers, which round; this much slack keeps an exact 15 s file valid.
    package static let durationSlack = 0.05

    /// The first rule the file breaks, or nil when it may become an asset of the declared type.
    public static func check(_ facts: MediaFacts, declared: MediaType) -> Failure? {
        guard facts.kind == declared else {
            return Failure(
                code: "asset_type_mismatch",
                message: "asset_type is \(declared.capitalized) but the file is \(article(facts.kind)) \(facts.kind.rawValue) (\(facts.format))"
            )
        }
        if facts.byteCount > maxBytes(for: declared) {
            let limit = declared == .image ? "smaller than 30 MB" : "at most \(maxBytes(for: declared) / megabyte) MB"
            return Failure(code: "file_too_large", message: "\(declared.rawValue) is \(mb(facts.byteCount)); it must be \(limit)")
        }
        switch declared {
        case .image: return checkImage(facts)
        case .video: return checkVideo(facts)
        case .audio: return checkAudio(facts)
        }
    }

    package static func checkImage(_ f: MediaFacts) -> Failure? {
        guard imageFormats.contains(f.format) else {
            return Failure(code: "unsupported_format", message: "image format '\(f.format)' is not supported; use one of \(imageFormats.joined(separator: ", "))")
        }
        guard let w = f.width, let h = f.height, w > 0, h > 0 else {
            return Failure(code: "unreadable_media", message: "could not read the image's dimensions")
        }
        // Sides (300, 6000) exclusive.
        guard w > 300, w < 6000, h > 300, h < 6000 else {
            return Failure(code: "dimensions_out_of_range", message: "image is \(w)x\(h) px; each side must be between 300 and 6000 (exclusive)")
        }
        // Aspect ratio (0.4, 2.5) exclusive.
        let ratio = Double(w) / Double(h)
        guard ratio > 0.4, ratio < 2.5 else {
            return Failure(code: "aspect_ratio_out_of_range", message: "image aspect ratio (width/height) is \(fmt(ratio)) (\(w)x\(h)); it must be between 0.4 and 2.5 (exclusive)")
        }
        return nil
    }

    package static func checkVideo(_ f: MediaFacts) -> Failure? {
        guard videoFormats.contains(f.format) else {
            return Failure(code: "unsupported_format", message: "video format '\(f.format)' is not supported; use mp4 or mov")
        }
        guard let w = f.width, let h = f.height, w > 0, h > 0 else {
            return Failure(code: "unreadable_media", message: "could not read the video's dimensions")
        }
        if let failure = checkDuration(f, "video") { return failure }
        // Sides [300, 6000] and aspect [0.4, 2.5] inclusive.
        guard (300...6000).contains(w), (300...6000).contains(h) else {
            return Failure(code: "dimensions_out_of_range", message: "video is \(w)x\(h) px; each side must be between 300 and 6000")
        }
        let ratio = Double(w) / Double(h)
        guard ratio >= 0.4, ratio <= 2.5 else {
            return Failure(code: "aspect_ratio_out_of_range", message: "video aspect ratio (width/height) is \(fmt(ratio)) (\(w)x\(h)); it must be between 0.4 and 2.5")
        }
        // Total pixels [409600, 927408]: 480p to 720p.
        let pixels = w * h
        guard (409_600...927_408).contains(pixels) else {
            return Failure(code: "resolution_out_of_range", message: "video is \(w)x\(h) (\(pixels) pixels); width x height must be between 409600 and 927408 (480p to 720p)")
        }
        guard let fps = f.fps, fps >= 24 - 0.01, fps <= 60 + 0.01 else {
            return Failure(code: "frame_rate_out_of_range", message: "video frame rate is \(f.fps.map(fmt) ?? "unknown") fps; it must be between 24 and 60")
        }
        return nil
    }

    package static func checkAudio(_ f: MediaFacts) -> Failure? {
        guard audioFormats.contains(f.format) else {
            return Failure(code: "unsupported_format", message: "audio format '\(f.format)' is not supported; use wav or mp3")
        }
        return checkDuration(f, "audio")
    }

    /// Durations [2, 15] seconds inclusive.
    package static func checkDuration(_ f: MediaFacts, _ what: String) -> Failure? {
        guard let d = f.duration else {
            return Failure(code: "unreadable_media", message: "could not read the \(what)'s duration")
        }
        guard d >= 2 - durationSlack, d <= 15 + durationSlack else {
            return Failure(code: "duration_out_of_range", message: "\(what) is \(fmt(d)) s long; it must be between 2 and 15 seconds")
        }
        return nil
    }

    package static func fmt(_ value: Double) -> String {
        let rounded = (value * 100).rounded() / 100
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }

    package static func mb(_ bytes: Int64) -> String {
        "\(fmt(Double(bytes) / Double(megabyte))) MB (\(bytes) bytes)"
    }

    private static func article(_ type: MediaType) -> String { type == .video ? "a" : "an" }
}
