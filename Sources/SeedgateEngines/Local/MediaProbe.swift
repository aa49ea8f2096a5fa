import Foundation
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

/// Probes a media file with ffprobe and says what it really is. HEIC/HEIF stills, which this
/// ffprobe cannot open, are recognised by their `ftyp` brand and measured from their `ispe` box.
package enum MediaProbe {
    package static func probe(file path: String) async throws(Failure) -> MediaFacts {
        let byteCount = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int64) ?? 0
        if let heif = heifFacts(path: path, byteCount: byteCount) { return heif }
        let output: ProcessRunner.Output
        do {
            output = try await ProcessRunner.run(
                "ffprobe", ["-v", "error", "-print_format", "json", "-show_format", "-show_streams", path], timeout: .seconds(30)
            )
        } catch {
            throw Failure(code: "probe_failed", message: "could not run ffprobe: \(error)")
        }
        guard output.status == 0, let report = try? JSONDecoder().decode(FFprobeReport.self, from: output.stdout) else {
            throw Failure(code: "unreadable_media", message: "the file is not a readable image, video or audio file")
        }
        guard let facts = facts(from: report, byteCount: byteCount) else {
            throw Failure(code: "unreadable_media", message: "the file is not a readable image, video or audio file")
        }
        return facts
    }

    /// Classifies ffprobe's report. Pure, so it is tested without files.
    package static func facts(from report: FFprobeReport, byteCount: Int64) -> MediaFacts? {
        let formatNames = (report.format?.format_name ?? "").split(separator: ",").map(String.init)
        let streams = report.streams ?? []
        let video = streams.first { $0.codec_type == "video" && $0.disposition?.attached_pic != 1 }
        let audio = streams.first { $0.codec_type == "audio" }
        let duration = report.format?.duration.flatMap(Double.init) ?? video?.duration.flatMap(Double.init) ?? audio?.duration.flatMap(Double.init)

        let imageFormats: [String: String] = [
            "png_pipe": "png", "jpeg_pipe": "jpeg", "webp_pipe": "webp", "bmp_pipe": "bmp", "tiff_pipe": "tiff",
            "gif": "gif", "gif_pipe": "gif", "apng": "png", "image2": "", "jpegls_pipe": "jpeg",
            "pgm_pipe": "pgm", "ppm_pipe": "ppm", "svg_pipe": "svg", "qoi_pipe": "qoi", "jpegxl_pipe": "jxl",
        ]
        if let first = formatNames.first, let image = imageFormats[first] {
            guard let width = video?.width, let height = video?.height, width > 0, height > 0 else { return nil }
            let codecFormat: String
            switch video?.codec_name ?? "" {
            case "mjpeg": codecFormat = "jpeg"
            case let other: codecFormat = other
            }
            return MediaFacts(
                kind: .image, format: image.isEmpty ? codecFormat : image,
                width: width, height: height, byteCount: byteCount
            )
        }
        if let video {
            var format = formatNames.first ?? "unknown"
            if formatNames.contains("mp4") || formatNames.contains("mov") {
                let brand = report.format?.tags?["major_brand"]?.trimmingCharacters(in: .whitespaces) ?? ""
                format = brand == "qt" ? "mov" : "mp4"
            } else if formatNames.contains("webm") {
                format = "webm"
            }
            return MediaFacts(
                kind: .video, format: format, width: video.width, height: video.height, duration: duration,
                fps: rate(video.avg_frame_rate) ?? rate(video.r_frame_rate), hasAudio: audio != nil, byteCount: byteCount
            )
        }
        if audio != nil {
            var format = formatNames.first ?? "unknown"
            if formatNames.contains("mp4") { format = "m4a" }
            return MediaFacts(kind: .audio, format: format, duration: duration, hasAudio: true, byteCount: byteCount)
        }
        return nil
    }

    package static func rate(_ text: String?) -> Double? {
        guard let text else { return nil }
        let parts = text.split(separator: "/").compactMap { Double($0) }
        guard parts.count == 2, parts[1] > 0, parts[0] > 0 else { return nil }
        return parts[0] / parts[1]
    }

    /// HEIF stills: the brand in the `ftyp` box, and the largest `ispe` (image spatial extent) box.
    package static func heifFacts(path: String, byteCount: Int64) -> MediaFacts? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let head = try? handle.read(upToCount: 64 * 1024), head.count >= 12 else { return nil }
        let bytes = [UInt8](head)
        guard Array(bytes[4..<8]) == Array("ftyp".utf8) else { return nil }
        let brand = String(decoding: bytes[8..<12], as: UTF8.self)
        let heicBrands = ["heic", "heix", "heim", "heis", "hevc", "hevx"]
        let heifBrands = ["mif1", "msf1"]
        guard heicBrands.contains(brand) || heifBrands.contains(brand) else { return nil }
        var best: (Int, Int)?
        let marker = Array("ispe".utf8)
        var i = 0
        while i + 16 <= bytes.count {
            if Array(bytes[i..<i + 4]) == marker {
                let w = bytes[i + 8..<i + 12].reduce(0) { $0 << 8 | Int($1) }
                let h = bytes[i + 12..<i + 16].reduce(0) { $0 << 8 | Int($1) }
                if w * h > (best.map { $0.0 * $0.1 } ?? 0) { best = (w, h) }
                i += 16
            } else {
                i += 1
            }
        }
        return MediaFacts(
            kind: .image, format: heicBrands.contains(brand) ? "heic" : "heif",
            width: best?.0, height: best?.1, byteCount: byteCount
        )
    }
}

/// The parts of `ffprobe -print_format json -show_format -show_streams` that Seedgate reads.
package struct FFprobeReport: Decodable {
    package struct Stream: Decodable {
        package var codec_type: String?
        package var codec_name: String?
        package var width: Int?
        package var height: Int?
        package var avg_frame_rate: String?
        package var r_frame_rate: String?
        package var duration: String?
        package var disposition: Disposition?
    }
    package struct Disposition: Decodable {
        package var attached_pic: Int?
    }
    package struct Format: Decodable {
        package var format_name: String?
        package var duration: String?
        package var tags: [String: String]?
    }
    package var streams: [Stream]?
    package var format: Format?
}
