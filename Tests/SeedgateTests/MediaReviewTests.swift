import Foundation
import SeedgateApp
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport
import Testing

@Suite("the local engine's review, end to end")
struct MediaReviewTests {
    /// fixture path, declared type, expected status, expected failure code.
    static let cases: [(String, String, String, String?)] = [
        ("f/good.png", "Image", "Active", nil),
        ("f/good2.jpg", "Image", "Active", nil),
        ("f/good.webp", "Image", "Active", nil),
        ("f/good.bmp", "Image", "Active", nil),
        ("f/good.tiff", "Image", "Active", nil),
        ("f/good.gif", "Image", "Active", nil),
        ("redirect/good.png", "Image", "Active", nil),
        ("f/small.png", "Image", "Failed", "dimensions_out_of_range"),
        ("f/side300.png", "Image", "Failed", "dimensions_out_of_range"),
        ("f/wide.png", "Image", "Failed", "aspect_ratio_out_of_range"),
        ("f/notmedia.png", "Image", "Failed", "unreadable_media"),
        ("f/big.png", "Image", "Failed", "file_too_large"),
        ("missing", "Image", "Failed", "fetch_failed"),
        ("f/video.mp4", "Video", "Active", nil),
        ("f/video.mov", "Video", "Active", nil),
        ("f/video-small.mp4", "Video", "Failed", "resolution_out_of_range"),
        ("f/video-short.mp4", "Video", "Failed", "duration_out_of_range"),
        ("f/video-15fps.mp4", "Video", "Failed", "frame_rate_out_of_range"),
        ("f/audio.wav", "Audio", "Active", nil),
        ("f/audio.mp3", "Audio", "Active", nil),
        ("f/audio-long.wav", "Audio", "Failed", "duration_out_of_range"),
        ("f/audio.m4a", "Audio", "Failed", "unsupported_format"),
        ("f/good.png", "Video", "Failed", "asset_type_mismatch"),
        ("f/video.mp4", "Image", "Failed", "asset_type_mismatch"),
        ("f/audio.wav", "Image", "Failed", "asset_type_mismatch"),
    ]

    @Test("every media requirement of seeds 003/004, on real files fetched over loopback")
    func requirements() async throws {
        try await withGateway { gw in
            let key = try await gw.newKey()
            var submitted: [(String, String, String, String?, String)] = []
            for (path, type, status, code) in Self.cases {
                let reply = try await gw.post("/api/v1/client/job/asset-upload", key: key,
                                              #"{"name": "case", "asset_type": "\#(type)", "asset_url": "\#(gw.fixtures)/\#(path)"}"#)
                #expect(reply.status == 200, "\(path): \(reply.text)")
                submitted.append((path, type, status, code, try #require(reply.body["data"]["AssetId"].string)))
            }
            for (path, type, status, code, id) in submitted {
                let done = try await gw.poll("/api/v1/client/job/asset-info?asset_id=\(id)", key: key) { $0["data"]["Status"].string != "Processing" }
                #expect(done.body["data"]["Status"].string == status, "\(path) as \(type): \(done.text)")
                #expect(done.body["data"]["Error"]["Code"].string == code, "\(path) as \(type): \(done.text)")
                if code != nil {
                    #expect(done.body["data"]["Error"]["Message"].string?.isEmpty == false)
                }
            }
        }
    }

    @Test("messages name the rule and the measured value")
    func messages() async throws {
        try await withGateway { gw in
            let key = try await gw.newKey()
            let expectations: [(String, String, String)] = [
                ("f/video-small.mp4", "Video", "video is 400x300 (120000 pixels); width x height must be between 409600 and 927408 (480p to 720p)"),
                ("f/video-15fps.mp4", "Video", "video frame rate is 15 fps; it must be between 24 and 60"),
                ("f/audio-long.wav", "Audio", "audio is 20 s long; it must be between 2 and 15 seconds"),
                ("f/good.png", "Video", "asset_type is Video but the file is an image (png)"),
            ]
            for (path, type, message) in expectations {
                let reply = try await gw.post("/api/v1/client/job/asset-upload", key: key, #"{"name": "m", "asset_type": "\#(type)", "asset_url": "\#(gw.fixtures)/\#(path)"}"#)
                let id = try #require(reply.body["data"]["AssetId"].string)
                let done = try await gw.poll("/api/v1/client/job/asset-info?asset_id=\(id)", key: key) { $0["data"]["Status"].string != "Processing" }
                #expect(done.body["data"]["Error"]["Message"].string == message)
            }
        }
    }
}

@Suite("private networks")
struct PrivateURLTests {
    @Test("without --allow-private-urls, loopback, private and metadata hosts are refused at submission",
          arguments: ["http://127.0.0.1:9/a.png", "http://localhost/a.png", "http://[::1]/a.png", "http://169.254.169.254/latest/meta-data",
                      "http://10.1.2.3/a.png", "http://192.168.0.10/a.png", "http://172.16.5.4/a.png", "http://0.0.0.0/a.png",
                      "http://[fd00:ec2::254]/a.png", "http://[::ffff:127.0.0.1]/a.png", "http://metadata.google.internal/a.png"])
    func refusedAtSubmission(_ url: String) async throws {
        try await withGateway(allowPrivate: false) { gw in
            let key = try await gw.newKey()
            let reply = try await gw.post("/v1/seedance2/private-avatar", key: key, #"{"group": {"name": "g"}, "url": "\#(url)"}"#)
            #expect(reply.status == 400, "\(url): \(reply.text)")
            #expect(reply.body["error"]["code"].string == "url_not_allowed")
            #expect(reply.body["error"]["param"].string == "url")
        }
    }

    @Test("a host name that resolves to a private address is refused before any fetch")
    func refusedAfterResolution() async throws {
        let guardOn = URLGuard(allowPrivate: false)
        await #expect(throws: Failure.self) {
            try await guardOn.checkResolved(URL(string: "http://localhost:1/a.png")!)
        }
        do {
            try await guardOn.checkResolved(URL(string: "http://localhost:1/a.png")!)
        } catch {
            #expect(error.code == "url_not_allowed")
            #expect(error.message.contains("not a public address"))
        }
        // With the development flag, loopback is allowed.
        try await URLGuard(allowPrivate: true).checkResolved(URL(string: "http://localhost:1/a.png")!)
    }
}
