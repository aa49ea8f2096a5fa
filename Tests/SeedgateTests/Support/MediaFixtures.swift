import Foundation
import SeedgateApp
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport

/// Media made at test time with the real ffmpeg, once per test run, in a temporary directory.
/// Nothing binary is committed.
enum MediaFixtures {
    /// name -> ffmpeg arguments that write it (the output path is appended).
    static let recipes: [String: [String]] = [
        "good.png": ["-f", "lavfi", "-i", "testsrc=size=640x480", "-frames:v", "1"],
        "good2.jpg": ["-f", "lavfi", "-i", "testsrc=size=800x600", "-frames:v", "1"],
        "good.webp": ["-f", "lavfi", "-i", "testsrc=size=640x480", "-frames:v", "1"],
        "good.bmp": ["-f", "lavfi", "-i", "testsrc=size=400x400", "-frames:v", "1"],
        "good.tiff": ["-f", "lavfi", "-i", "testsrc=size=400x400", "-frames:v", "1"],
        "good.gif": ["-f", "lavfi", "-i", "testsrc=size=400x400", "-frames:v", "1"],
        // Animated: a GIF that plays once (no loop), and an APNG, each 1 s.
        "once.gif": ["-f", "lavfi", "-i", "testsrc=size=400x400:rate=10", "-t", "1", "-loop", "-1"],
        "anim.png": ["-f", "lavfi", "-i", "testsrc=size=400x400:rate=10", "-t", "1", "-f", "apng", "-plays", "1"],
        "small.png": ["-f", "lavfi", "-i", "color=c=red:size=200x200", "-frames:v", "1"],
        "side300.png": ["-f", "lavfi", "-i", "color=c=red:size=300x400", "-frames:v", "1"],
        "wide.png": ["-f", "lavfi", "-i", "color=c=green:size=1600x600", "-frames:v", "1"],
        "video.mp4": ["-f", "lavfi", "-i", "testsrc=size=854x480:rate=24", "-t", "3", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast"],
        "video.mov": ["-f", "lavfi", "-i", "testsrc=size=720x720:rate=30", "-t", "3", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", "-f", "mov"],
        "video-small.mp4": ["-f", "lavfi", "-i", "testsrc=size=400x300:rate=24", "-t", "3", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast"],
        "video-6s.mp4": ["-f", "lavfi", "-i", "testsrc=size=854x480:rate=24", "-t", "6", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast"],
        "video-short.mp4": ["-f", "lavfi", "-i", "testsrc=size=854x480:rate=24", "-t", "1", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast"],
        "video-15fps.mp4": ["-f", "lavfi", "-i", "testsrc=size=854x480:rate=15", "-t", "3", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast"],
        // What the fake Ark hands back as a finished video: 4 s of 720p with sound.
        "result.mp4": ["-f", "lavfi", "-i", "testsrc=size=1280x720:rate=24", "-f", "lavfi", "-i", "sine=frequency=330:duration=4", "-t", "4",
                       "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest"],
        "audio.wav": ["-f", "lavfi", "-i", "sine=frequency=440:duration=3"],
        "audio.mp3": ["-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-c:a", "libmp3lame"],
        "audio-long.wav": ["-f", "lavfi", "-i", "sine=frequency=440:duration=20"],
        "audio.m4a": ["-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-c:a", "aac"],
    ]

    static let directory: String = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("seedgate-fixtures-\(ProcessInfo.processInfo.processIdentifier)").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }()

    private static let made = MadeOnce()

    /// Makes every fixture (once) and returns the directory that holds them.
    static func prepare() async throws -> String {
        try await made.run {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (name, recipe) in recipes {
                    group.addTask {
                        let output = try await ProcessRunner.run(
                            "ffmpeg", ["-v", "error", "-y"] + recipe + ["\(directory)/\(name)"], timeout: .seconds(120)
                        )
                        guard output.status == 0 else {
                            throw FixtureError("ffmpeg could not make \(name): \(String(decoding: output.stderr, as: UTF8.self))")
                        }
                    }
                }
                try await group.waitForAll()
            }
            // Not media at all, and a file over every size cap.
            try Data("this is not an image".utf8).write(to: URL(fileURLWithPath: "\(directory)/notmedia.png"))
            var big = Data(count: 31 * 1024 * 1024)
            big[0] = 0x89
            try big.write(to: URL(fileURLWithPath: "\(directory)/big.png"))
        }
        return directory
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs a piece of set-up once, however many tests ask for it at the same time.
actor MadeOnce {
    private var task: Task<Void, any Error>?

    func run(_ body: @escaping @Sendable () async throws -> Void) async throws {
        if task == nil { task = Task { try await body() } }
        try await task!.value
    }
}
