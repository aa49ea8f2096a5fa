import Foundation
import SeedgateApp
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport
import Testing

@Suite("apimart private-avatar (seed 000)")
struct ApimartAssetTests {
    @Test("two good images and one 200x200: the partial failure of seed 000, with the reason", arguments: Backend.all)
    func partialFailure(_ backend: Backend) async throws {
        try await withGateway(backend: backend) { gw in
            let key = try await gw.newKey()
            let submitted = try await gw.post("/v1/seedance2/private-avatar", key: key, """
                {"group": {"name": "virtual-avatar-group", "description": "demo group"}, "project_name": "default",
                 "asset_type": "Image", "assets": [
                   {"url": "\(gw.url("good.png"))", "name": "avatar-a"},
                   {"url": "\(gw.url("good2.jpg"))", "name": "avatar-b"},
                   {"url": "\(gw.url("small.png"))", "name": "avatar-c"}]}
                """)
            #expect(submitted.status == 200)
            // Seed 000's bytes, in its order, then group_id.
            let pattern = #/^\{"code":200,"data":\{"id":"task_[0-9A-HJKMNP-TV-Z]{26}","object":"seedance\.avatar\.asset\.task","status":"processing","progress":10,"model":"doubao-seedance-2\.0","group_id":"group-\d{14}-[a-z0-9]{8}"\}\}$/#
            #expect(submitted.text.wholeMatch(of: pattern) != nil, "\(submitted.text)")
            let taskID = try #require(submitted.body["data"]["id"].string)

            let done = try await gw.finishedTask(taskID, key: key)
            let data = done.body["data"]
            #expect(data["status"].string == "failed")
            #expect(data["progress"].int == 100)
            #expect(data["error"]["code"].string == "task_failed")
            #expect(data["error"]["message"].string == "Some assets failed review")
            #expect(data["result"]["assets"].array.count == 3)
            #expect(data["result"]["usable_assets"].array.map { $0["status"].string } == ["Active", "Active"])
            let failed = data["result"]["failed_assets"].array
            #expect(failed.count == 1)
            #expect(failed.first?["status"].string == "Failed")
            #expect(failed.first?["error"]["code"].string == "dimensions_out_of_range")
            #expect(failed.first?["error"]["message"].string?.contains("200x200") == true)
            for asset in data["result"]["assets"].array {
                let id = try #require(asset["asset_id"].string)
                #expect(asset["asset_url"].string == "asset://\(id)")
            }
            #expect(!data["result"]["asset_url"].exists, "asset_url is only for single-asset tasks")
            // The seed's field order: id, status, progress, result{assets, usable_assets, failed_assets}, error.
            let order = ["\"id\":", "\"status\":", "\"progress\":", "\"result\":", "\"usable_assets\":", "\"failed_assets\":", "\"error\":{\"code\":\"task_failed\""]
            let positions = order.compactMap { done.text.range(of: $0)?.lowerBound }
            #expect(positions.count == order.count && positions == positions.sorted(), "\(done.text)")
        }
    }

    @Test("all approved: completed, usable, no error")
    func allApproved() async throws {
        try await withGateway { gw in
            let key = try await gw.newKey()
            let submitted = try await gw.post("/v1/seedance2/private-avatar", key: key, """
                {"group": {"name": "g"}, "assets": [{"url": "\(gw.url("good.png"))", "name": "a"}, {"url": "\(gw.url("good.webp"))", "name": "b"}]}
                """)
            let done = try await gw.finishedTask(try #require(submitted.body["data"]["id"].string), key: key)
            #expect(done.body["data"]["status"].string == "completed")
            #expect(done.body["data"]["progress"].int == 100)
            #expect(done.body["data"]["result"]["usable_assets"].array.count == 2)
            #expect(done.body["data"]["result"]["failed_assets"].array.isEmpty)
            #expect(!done.body["data"]["error"].exists)
        }
    }

    @Test("single-asset shorthand into an existing group returns result.asset_url")
    func shorthandAppendsToGroup() async throws {
        try await withGateway { gw in
            let key = try await gw.newKey()
            let first = try await gw.post("/v1/seedance2/private-avatar", key: key, #"{"group": {"name": "g"}, "url": "\#(gw.url("good.png"))", "name": "one"}"#)
            let groupID = try #require(first.body["data"]["group_id"].string)
            let second = try await gw.post("/v1/seedance2/private-avatar", key: key, #"{"group_id": "\#(groupID)", "url": "\#(gw.url("good2.jpg"))", "asset_type": "Image", "name": "avatar-1"}"#)
            #expect(second.status == 200)
            #expect(second.body["data"]["group_id"].string == groupID)
            let done = try await gw.finishedTask(try #require(second.body["data"]["id"].string), key: key)
            #expect(done.body["data"]["status"].string == "completed")
            let assetID = try #require(done.body["data"]["result"]["assets"][0]["asset_id"].string)
            #expect(done.body["data"]["result"]["asset_url"].string == "asset://\(assetID)")
            // The same asset through toapis, in the same group.
            let viaToapis = try await gw.get("/v1/videos/doubao-seedance-2-0/private-avatar/assets/\(assetID)", key: key)
            #expect(viaToapis.body["data"]["group_id"].string == groupID)
            #expect(viaToapis.body["data"]["status"].string == "active")
        }
    }

    @Test("a single failed asset says why in the task error")
    func singleFailureReason() async throws {
        try await withGateway { gw in
            let key = try await gw.newKey()
            let submitted = try await gw.post("/v1/seedance2/private-avatar", key: key, #"{"group": {"name": "g"}, "url": "\#(gw.url("wide.png"))", "name": "wide"}"#)
            let done = try await gw.finishedTask(try #require(submitted.body["data"]["id"].string), key: key)
            #expect(done.body["data"]["status"].string == "failed")
            #expect(done.body["data"]["error"]["message"].string?.contains("aspect ratio") == true)
            #expect(done.body["data"]["result"]["failed_assets"][0]["error"]["code"].string == "aspect_ratio_out_of_range")
        }
    }

    static let longName = String(repeating: "n", count: 65)
    static let invalidBodies: [(body: String, param: String, fragment: String)] = [
        (#"{"group": {"name": "g"}, "group_id": "group-x", "url": "https://example.com/a.png"}"#, "group_id", "mutually exclusive"),
        (#"{"url": "https://example.com/a.png"}"#, "group_id", "required"),
        (#"{"group": {"name": "g"}, "assets": [{"url": "https://example.com/a.png"}], "url": "https://example.com/b.png"}"#, "assets", "mutually exclusive"),
        (#"{"group": {"name": "g"}}"#, "assets", "required"),
        (#"{"group": {"name": "g"}, "assets": []}"#, "assets", "at least one"),
        (#"{"group": {"name": "g"}, "assets": [\#(Array(repeating: #"{"url": "https://example.com/a.png"}"#, count: 21).joined(separator: ","))]}"#, "assets", "at most 20"),
        (#"{"group": {"name": "g"}, "assets": [{"url": "https://example.com/a.png"}, {"name": "b"}]}"#, "assets[1].url", "required"),
        (#"{"group": {"name": "g"}, "assets": ["https://example.com/a.png"]}"#, "assets[0]", "must be an object"),
        (#"{"group": {"name": "g"}, "asset_type": "Document", "url": "https://example.com/a.png"}"#, "asset_type", "Image, Video or Audio"),
        (#"{"group": {"name": "g"}, "assets": [{"url": "https://example.com/a.png", "name": "\#(longName)"}]}"#, "assets[0].name", "at most 64"),
        (#"{"group": {"name": "g"}, "assets": [{"url": "data:image/png;base64,iVBORw0KGgo="}]}"#, "assets[0].url", "base64"),
        (#"{"group": {"name": "g"}, "url": "ftp://example.com/a.png"}"#, "url", "scheme"),
        (#"{"group": {"name": "g"}, "url": "not a url"}"#, "url", "not a valid URL"),
        (#"{"group": {"description": "no name"}, "url": "https://example.com/a.png"}"#, "group.name", "required"),
        (#"{"group": {"name": "g", "description": "\#(String(repeating: "d", count: 301))"}, "url": "https://example.com/a.png"}"#, "group.description", "at most 300"),
        (#"{"group": {"name": "g"}, "url": "https://example.com/a.png", "colour": "red"}"#, "colour", "unknown field"),
        (#"{"group": {"name": "g"}, "url": 42}"#, "url", "must be a string"),
        (#"{"group": {"name": "g"}, "project_name": "", "url": "https://example.com/a.png"}"#, "project_name", "1 to 64"),
    ]

    @Test("every rule refuses with 400 in apimart's envelope, naming the field, and stores nothing", arguments: invalidBodies)
    func invalidRequests(_ invalid: (body: String, param: String, fragment: String)) async throws {
        try await withGateway { gw in
            let key = try await gw.newKey()
            let reply = try await gw.post("/v1/seedance2/private-avatar", key: key, invalid.body)
            #expect(reply.status == 400, "\(reply.text)")
            #expect(reply.body["code"].int == 400)
            #expect(reply.body["error"]["param"].string == invalid.param, "\(reply.text)")
            let message = try #require(reply.body["error"]["message"].string)
            #expect(message.hasPrefix(invalid.param), "\(message)")
            #expect(message.contains(invalid.fragment), "\(message)")
            let stored = try await gw.store.provider.read { db in
                try await db.raw("SELECT (SELECT COUNT(*) FROM tasks) + (SELECT COUNT(*) FROM assets) + (SELECT COUNT(*) FROM asset_groups) AS n").first()?.decode(column: "n", as: Int.self)
            }
            #expect(stored == 0)
        }
    }

    @Test("a body that is not JSON, or too large, gets apimart's envelope")
    func malformedBodies() async throws {
        try await withGateway { gw in
            let key = try await gw.newKey()
            let notJSON = try await gw.post("/v1/seedance2/private-avatar", key: key, "{not json")
            #expect(notJSON.status == 400)
            #expect(notJSON.body["error"]["code"].string == "invalid_json")
            #expect(notJSON.body["error"]["message"].string?.contains("at byte 1:") == true, "\(notJSON.text)")
            let deep = try await gw.post("/v1/seedance2/private-avatar", key: key, String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000))
            #expect(deep.status == 400 && deep.body["error"]["code"].string == "invalid_json" && deep.body["error"]["message"].string?.contains("nested deeper") == true)
            // A byte order mark before the body is allowed.
            let marked = try await gw.post("/v1/videos/generations", key: key, "\u{FEFF}" + #"{"model": "doubao-seedance-2.0", "prompt": "bom", "duration": 4}"#)
            #expect(marked.status == 200, "\(marked.text)")
            let array = try await gw.post("/v1/seedance2/private-avatar", key: key, "[1,2]")
            #expect(array.status == 400)
            #expect(array.body["error"]["message"].string?.contains("JSON object") == true)
            let huge = try await gw.post("/v1/seedance2/private-avatar", key: key, #"{"url": "\#(String(repeating: "a", count: 1_100_000))"}"#)
            #expect(huge.status == 413)
            #expect(huge.body["code"].int == 413)
        }
    }
}
