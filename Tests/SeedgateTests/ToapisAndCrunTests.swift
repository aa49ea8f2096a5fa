import Foundation
import SeedgateApp
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport
import Testing

@Suite("toapis (seed 001) and crun (seeds 003, 004)")
struct ToapisAndCrunTests {
    static let base = "/v1/videos/doubao-seedance-2-0/private-avatar"

    @Test("toapis: group, upload, poll until active, in seed 001's envelope and field order")
    func toapisWorkflow() async throws {
        try await withGateway { gw in
            let key = try await gw.newKey()
            let group = try await gw.post("\(Self.base)/groups", key: key, #"{"name": "brand-avatar-group", "description": "Virtual avatar asset group"}"#)
            #expect(group.status == 200)
            #expect(group.text.hasPrefix(#"{"success":true,"message":"","data":{"group_id":"group-"#), "\(group.text)")
            #expect(group.body["data"]["name"].string == "brand-avatar-group")
            let groupID = try #require(group.body["data"]["group_id"].string)

            let upload = try await gw.post("\(Self.base)/assets", key: key, #"{"group_id": "\#(groupID)", "asset_type": "image", "source_url": "\#(gw.url("good.png"))", "name": "full-body"}"#)
            #expect(upload.status == 200)
            let assetID = try #require(upload.body["data"]["asset_id"].string)
            #expect(assetID.wholeMatch(of: #/asset-\d{14}-[a-z0-9]{8}/#) != nil)
            let prefix = #"{"success":true,"message":"","data":{"asset_id":"\#(assetID)","group_id":"\#(groupID)","asset_type":"image","source_url":"\#(gw.url("good.png"))","status":"processing""#
            #expect(upload.text.hasPrefix(prefix), "\(upload.text)")

            let done = try await gw.poll("\(Self.base)/assets/\(assetID)", key: key) { $0["data"]["status"].string != "processing" }
            #expect(done.body["data"]["status"].string == "active")
            #expect(done.body["data"]["asset_url"].string == "asset://\(assetID)")
            #expect(!done.body["data"]["error"].exists)
        }
    }

    @Test("toapis: a failed asset is lowercase 'failed' with its reason")
    func toapisFailure() async throws {
        try await withGateway { gw in
            let key = try await gw.newKey()
            let group = try await gw.post("\(Self.base)/groups", key: key, #"{"name": "g"}"#)
            let groupID = try #require(group.body["data"]["group_id"].string)
            let upload = try await gw.post("\(Self.base)/assets", key: key, #"{"group_id": "\#(groupID)", "asset_type": "image", "source_url": "\#(gw.url("small.png"))", "name": "small"}"#)
            let assetID = try #require(upload.body["data"]["asset_id"].string)
            let done = try await gw.poll("\(Self.base)/assets/\(assetID)", key: key) { $0["data"]["status"].string != "processing" }
            #expect(done.body["data"]["status"].string == "failed")
            #expect(done.body["data"]["error"]["code"].string == "dimensions_out_of_range")
            #expect(done.body["data"]["error"]["message"].string == "image is 200x200 px; each side must be between 300 and 6000 (exclusive)")
        }
    }

    @Test("toapis: errors are {success: false, message, data: null} with the right status")
    func toapisErrors() async throws {
        try await withGateway { gw in
            let key = try await gw.newKey()
            let cases: [(String, String, Int, String)] = [
                ("groups", #"{"description": "x"}"#, 400, "name: is required"),
                ("groups", #"{"name": "\#(String(repeating: "x", count: 65))"}"#, 400, "name: is 65 characters"),
                ("assets", #"{"asset_type": "image", "source_url": "https://example.com/a.png"}"#, 400, "group_id: is required"),
                ("assets", #"{"group_id": "group-nope", "asset_type": "image", "source_url": "https://example.com/a.png"}"#, 404, "group_id: group 'group-nope' does not exist"),
                ("assets", #"{"group_id": "g", "asset_type": "picture", "source_url": "https://example.com/a.png"}"#, 400, "asset_type: 'picture' is not an asset type"),
                ("assets", #"{"group_id": "g", "asset_type": "image"}"#, 400, "source_url: is required"),
                ("assets", #"{"group_id": "g", "asset_type": "image", "source_url": "data:image/png;base64,AAAA"}"#, 400, "source_url: data: and base64"),
            ]
            for (path, body, status, message) in cases {
                let reply = try await gw.post("\(Self.base)/\(path)", key: key, body)
                #expect(reply.status == status, "\(body) -> \(reply.text)")
                #expect(reply.body["success"].bool == false)
                #expect(reply.body["data"].isNull)
                #expect(reply.body["message"].string?.hasPrefix(message) == true, "\(reply.text)")
                // Beside the envelope, the machine code and the field, OpenAI-style.
                #expect(reply.body["error"]["message"].string == reply.body["message"].string && reply.body["error"]["code"].string != nil)
                if message.contains(":") { #expect(reply.body["error"]["param"].string == String(message.prefix { $0 != ":" }), "\(reply.text)") }
            }
            let missing = try await gw.get("\(Self.base)/assets/asset-none", key: key)
            #expect(missing.text == #"{"success":false,"message":"asset 'asset-none' does not exist","data":null,"error":{"code":"asset_not_found","message":"asset 'asset-none' does not exist"}}"#)
        }
    }

    @Test("crun: upload answers seed 004's bytes; info moves Processing -> Active; uploads share the key's default group")
    func crunWorkflow() async throws {
        try await withGateway { gw in
            let key = try await gw.newKey()
            let upload = try await gw.post("/api/v1/client/job/asset-upload", key: key, header: .xAPIKey,
                                           #"{"name": "fashion-model-front", "asset_type": "Image", "asset_url": "\#(gw.fixtures)/slow/good.png"}"#)
            #expect(upload.status == 200)
            #expect(upload.text.wholeMatch(of: #/\{"code":200,"message":"success","data":\{"AssetId":"asset-\d{14}-[a-z0-9]{8}"\}\}/#) != nil, "\(upload.text)")
            let assetID = try #require(upload.body["data"]["AssetId"].string)
            let first = try await gw.get("/api/v1/client/job/asset-info?asset_id=\(assetID)", key: key, header: .xAPIKey)
            #expect(first.body["data"]["Status"].string == "Processing")
            #expect(first.text.hasPrefix(#"{"code":200,"message":"success","data":{"AssetId":"\#(assetID)","Name":"fashion-model-front","AssetType":"Image","Status":"Processing","URL":"#), "\(first.text)")
            let done = try await gw.poll("/api/v1/client/job/asset-info?asset_id=\(assetID)", key: key, header: .xAPIKey) { $0["data"]["Status"].string != "Processing" }
            #expect(done.body["data"]["Status"].string == "Active")
            #expect(done.body["data"]["CreateTime"].string?.hasSuffix("Z") == true)

            let second = try await gw.post("/api/v1/client/job/asset-upload", key: key, header: .xAPIKey, #"{"name": "second", "asset_type": "Audio", "asset_url": "\#(gw.url("audio.wav"))"}"#)
            let secondID = try #require(second.body["data"]["AssetId"].string)
            let secondInfo = try await gw.get("/api/v1/client/job/asset-info?asset_id=\(secondID)", key: key, header: .xAPIKey)
            #expect(secondInfo.body["data"]["GroupId"].string == done.body["data"]["GroupId"].string)
            #expect(secondInfo.body["data"]["AssetType"].string == "Audio")
        }
    }

    @Test("crun: validation errors are 422 {code, message}; unknown assets 404")
    func crunErrors() async throws {
        try await withGateway { gw in
            let key = try await gw.newKey()
            let cases: [(String, String)] = [
                (#"{"asset_type": "Image", "asset_url": "https://example.com/a.png"}"#, "name: is required"),
                (#"{"name": "", "asset_type": "Image", "asset_url": "https://example.com/a.png"}"#, "name: must not be empty"),
                (#"{"name": "\#(String(repeating: "é", count: 65))", "asset_type": "Image", "asset_url": "https://example.com/a.png"}"#, "name: is 65 characters"),
                (#"{"name": "n", "asset_type": "Document", "asset_url": "https://example.com/a.png"}"#, "asset_type:"),
                (#"{"name": "n", "asset_url": "https://example.com/a.png"}"#, "asset_type: is required"),
                (#"{"name": "n", "asset_type": "Image"}"#, "asset_url: is required"),
                (#"{"name": "n", "asset_type": "Image", "asset_url": "data:image/png;base64,AAAA"}"#, "asset_url: data: and base64"),
                (#"{"name": "n", "asset_type": "Image", "asset_url": "https://example.com/a.png", "extra": 1}"#, "extra: unknown field"),
            ]
            for (body, message) in cases {
                let reply = try await gw.post("/api/v1/client/job/asset-upload", key: key, header: .xAPIKey, body)
                #expect(reply.status == 422, "\(body) -> \(reply.text)")
                #expect(reply.body["code"].int == 422)
                #expect(reply.body["message"].string?.hasPrefix(message) == true, "\(reply.text)")
                #expect(Set(reply.body.keys) == ["code", "message"])
            }
            // 64 characters (not bytes) is allowed.
            let sixtyFour = try await gw.post("/api/v1/client/job/asset-upload", key: key, header: .xAPIKey, #"{"name": "\#(String(repeating: "é", count: 64))", "asset_type": "Image", "asset_url": "\#(gw.url("good.png"))"}"#)
            #expect(sixtyFour.status == 200)
            let missingParam = try await gw.get("/api/v1/client/job/asset-info", key: key, header: .xAPIKey)
            #expect(missingParam.text == #"{"code":422,"message":"asset_id: is required"}"#)
            let unknown = try await gw.get("/api/v1/client/job/asset-info?asset_id=asset-nope", key: key, header: .xAPIKey)
            #expect(unknown.status == 404)
            #expect(unknown.text == #"{"code":404,"message":"asset 'asset-nope' does not exist"}"#)
        }
    }

    @Test("one asset model: made in one dialect, seen in the other two")
    func crossDialect() async throws {
        try await withGateway { gw in
            let key = try await gw.newKey()
            let upload = try await gw.post("/api/v1/client/job/asset-upload", key: key, #"{"name": "x", "asset_type": "Video", "asset_url": "\#(gw.url("video.mp4"))"}"#)
            let assetID = try #require(upload.body["data"]["AssetId"].string)
            let toapis = try await gw.poll("\(Self.base)/assets/\(assetID)", key: key) { $0["data"]["status"].string != "processing" }
            #expect(toapis.body["data"]["status"].string == "active")
            #expect(toapis.body["data"]["asset_type"].string == "video")
            let taskID = try #require(toapis.body["data"]["task_id"].string)
            let task = try await gw.get("/v1/tasks/\(taskID)", key: key)
            #expect(task.body["data"]["status"].string == "completed")
            #expect(task.body["data"]["result"]["asset_url"].string == "asset://\(assetID)")
        }
    }
}
