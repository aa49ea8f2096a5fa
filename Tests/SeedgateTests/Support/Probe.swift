import Foundation
import SeedgateApp
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport
import Testing

/// What ffprobe says about a rendered file, for assertions.
struct ProbedVideo {
    var width: Int
    var height: Int
    var duration: Double
    var fps: Double
    var videoCodec: String
    var pixelFormat: String
    var audioCodec: String?
    var audioDuration: Double?

    static func probe(_ data: Data) async throws -> ProbedVideo {
        let path = TestSupport.temporaryDirectory() + "/probe.mp4"
        try data.write(to: URL(fileURLWithPath: path))
        let output = try await ProcessRunner.run("ffprobe", ["-v", "error", "-print_format", "json", "-show_format", "-show_streams", path], timeout: .seconds(30))
        struct Report: Decodable {
            struct Stream: Decodable { var codec_type: String; var codec_name: String; var width: Int?; var height: Int?; var r_frame_rate: String?; var pix_fmt: String?; var duration: String? }
            struct Format: Decodable { var duration: String }
            var streams: [Stream]
            var format: Format
        }
        let report = try JSONDecoder().decode(Report.self, from: output.stdout)
        let video = try #require(report.streams.first { $0.codec_type == "video" })
        let audio = report.streams.first { $0.codec_type == "audio" }
        return ProbedVideo(
            width: video.width ?? 0, height: video.height ?? 0, duration: Double(report.format.duration) ?? 0,
            fps: MediaProbe.rate(video.r_frame_rate) ?? 0, videoCodec: video.codec_name, pixelFormat: video.pix_fmt ?? "",
            audioCodec: audio?.codec_name, audioDuration: audio?.duration.flatMap(Double.init)
        )
    }

    /// An MD5 of every decoded video frame: equal exactly when the pictures are equal.
    static func frameHash(_ data: Data) async throws -> String {
        let path = TestSupport.temporaryDirectory() + "/hash.mp4"
        try data.write(to: URL(fileURLWithPath: path))
        let output = try await ProcessRunner.run("ffmpeg", ["-v", "error", "-i", path, "-map", "0:v", "-f", "md5", "-"], timeout: .seconds(60))
        return String(decoding: output.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
