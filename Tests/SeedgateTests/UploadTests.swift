import AsyncHTTPClient
import Foundation
import HTTPTypes
import NIOCore
import SeedgateApp
import SeedgateDomain
import SeedgateSupport
import Testing

extension Gateway {
    /// `POST /v1/uploads` with `data` as the raw body.
    func upload(_ data: Data, key: String, query: String = "", contentType: String = "application/octet-stream") async throws -> Reply {
        let headers: HTTPFields = [.authorization: "Bearer \(key)", .contentType: contentType]
        let response = try await client.execute(uri: "/v1/uploads\(query)", method: .post, headers: headers, body: ByteBuffer(data: data))
        return Reply(status: Int(response.status.code), text: String(buffer: response.body), headers: response.headers)
    }

    /// `POST /v1/uploads` of a large body, over a client of its own with a deadline that a loaded
    /// machine cannot miss (the test client's is 20 s for the whole exchange).
    func uploadLarge(_ data: Data, key: String) async throws -> Reply {
        try await postApart("/v1/uploads", key: key, contentType: "application/octet-stream", body: ByteBuffer(data: data), timeout: .seconds(180))
    }

    func uploadCount() async throws -> Int {
        try await store.provider.read { try await $0.raw("SELECT COUNT(*) AS n FROM uploads").first()?.decode(column: "n", as: Int.self) ?? 0 }
    }
}

@Suite("uploads: files from the caller's machine")
struct UploadTests {
    static func fixture(_ name: String) async throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: "\(try await MediaFixtures.prepare())/\(name)"))
    }

    @Test("an uploaded image becomes an Active asset and a video's first frame, with private URLs refused: Seedgate reads its own links from the blob store")
    func uploadIsUsable() async throws {
        try await withGateway(allowPrivate: false) { gw in
            let key = try await gw.newKey()
            let png = try await Self.fixture("good.png")
            let reply = try await gw.upload(png, key: key, query: "?type=image&filename=cat.png")
            #expect(reply.status == 200, "\(reply.text)")
            let data = reply.body["data"]
            #expect(data["media_type"].string == "image" && data["size"].int == png.count && data["filename"].string == "cat.png")
            #expect(data["width"].int == 640 && data["content_type"].string == "image/png")
            let url = try #require(data["url"].string)
            // An asset from it, through apimart.
            let asset = try await gw.post("/v1/seedance2/private-avatar", key: key, #"{"group": {"name": "g"}, "url": "\#(url)"}"#)
            let taskID = try #require(asset.body["data"]["id"].string, "\(asset.text)")
            let reviewed = try await gw.poll("/v1/tasks/\(taskID)", key: key) { $0["data"]["status"].string != "processing" }
            #expect(reviewed.body["data"]["status"].string == "completed", "\(reviewed.text)")
            // A video from it, through crun.
            let id = try await gw.generateCrun(#"{"model": "bytedance/seedance2-0-i2v", "input": {"prompt": "p", "img_urls": ["\#(url)"], "duration": 4}}"#, key: key)
            let done = try await gw.finishedVideo(id, key: key)
            #expect(done.body["data"]["status"].string == "completed", "\(done.text)")
            // The link downloads the same bytes.
            #expect(try await gw.download(url).body == png)
        }
    }

    @Test("a multipart form's file is what is stored, whatever fields come before it")
    func multipart() async throws {
        try await withGateway { gw in
            let key = try await gw.newKey()
            let wav = try await Self.fixture("audio.wav")
            let boundary = "----seedgate\(Identifiers.random(8))"
            var body = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n".utf8)
            body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"voice.wav\"\r\nContent-Type: audio/wav\r\n\r\n".utf8)
            body += wav + Data("\r\n--\(boundary)--\r\n".utf8)
            let reply = try await gw.upload(body, key: key, contentType: "multipart/form-data; boundary=\(boundary)")
            #expect(reply.status == 200 && reply.body["data"]["media_type"].string == "audio" && reply.body["data"]["filename"].string == "voice.wav", "\(reply.text)")
            #expect(reply.body["data"]["size"].int == wav.count)
            #expect(try await gw.download(try #require(reply.body["data"]["url"].string)).body == wav)
        }
    }

    @Test("a wrong type, a file that is not media, an oversized file and an empty body are refused before anything is stored")
    func refusals() async throws {
        try await withGateway { gw in
            let key = try await gw.newKey()
            let png = try await Self.fixture("good.png")
            let wrong = try await gw.upload(png, key: key, query: "?type=video")
            #expect(wrong.status == 400 && wrong.body["error"]["code"].string == "wrong_media_type" && wrong.body["error"]["param"].string == "file", "\(wrong.text)")
            let garbage = try await gw.upload(Data("this is not media at all".utf8), key: key)
            #expect(garbage.status == 400 && garbage.body["error"]["code"].string == "unsupported_media", "\(garbage.text)")
            let bigImage = try await gw.uploadLarge(png + Data(count: 30 * 1024 * 1024), key: key)
            #expect(bigImage.status == 413 && bigImage.body["error"]["message"].string?.contains("30 MB") == true, "\(bigImage.text)")
            let huge = try await gw.uploadLarge(Data(count: 51 * 1024 * 1024), key: key)
            #expect(huge.status == 413 && huge.body["error"]["code"].string == "file_too_large", "\(huge.text)")
            // Found by schemathesis: a filename past its documented 255 was cut instead of refused.
            let longName = try await gw.upload(png, key: key, query: "?filename=" + String(repeating: "a", count: 256))
            #expect(longName.status == 400 && longName.body["error"]["param"].string == "filename", "\(longName.text)")
            let empty = try await gw.upload(Data(), key: key)
            #expect(empty.status == 400, "\(empty.text)")
            let unauthenticated = try await gw.post("/v1/uploads", key: nil, "x")
            #expect(unauthenticated.status == 401)
            #expect(try await gw.uploadCount() == 0)
            let stored = FileManager.default.enumerator(atPath: "\(gw.dataDirectory)/blobs")?.allObjects.compactMap { $0 as? String }.filter { $0.hasPrefix("uploads/") && $0.contains(".") } ?? []
            #expect(stored.isEmpty, "\(stored)")
        }
    }

    @Test("another key cannot use a key's upload; a tampered link is refused; the quota is held with 429")
    func ownership() async throws {
        let png = try await Self.fixture("good.png")
        try await withGateway(configure: { $0.uploadQuota = Int64(png.count) * 2 + 10 }) { gw in
            let key = try await gw.newKey(), other = try await gw.newKey("other")
            let url = try #require(try await gw.upload(png, key: key).body["data"]["url"].string)
            let stolen = try await gw.post("/v1/videos/generations", key: other, #"{"model": "doubao-seedance-2.0", "prompt": "p", "image_urls": ["\#(url)"]}"#)
            #expect(stolen.status == 400 && stolen.body["error"]["code"].string == "upload_not_yours" && stolen.body["error"]["param"].string == "image_urls[0]", "\(stolen.text)")
            let stolenAsset = try await gw.post("/api/v1/client/job/asset-upload", key: other, header: .xAPIKey, #"{"name": "a", "asset_type": "Image", "asset_url": "\#(url)"}"#)
            #expect(stolenAsset.status == 422 && stolenAsset.body["message"].string?.contains("another key") == true, "\(stolenAsset.text)")
            let tampered = url.replacingOccurrences(of: "sig=", with: "sig=0")
            let forged = try await gw.post("/v1/videos/generations", key: key, #"{"model": "doubao-seedance-2.0", "prompt": "p", "image_urls": ["\#(tampered)"]}"#)
            #expect(forged.status == 400 && forged.body["error"]["code"].string == "invalid_url", "\(forged.text)")
            #expect(try await gw.upload(png, key: key).status == 200)
            let over = try await gw.upload(png, key: key)
            #expect(over.status == 429 && over.body["error"]["code"].string == "upload_quota_exceeded" && over.headers[.retryAfter] != nil, "\(over.text)")
            #expect(try await gw.upload(png, key: other).status == 200, "another key has its own quota")
        }
    }
}
