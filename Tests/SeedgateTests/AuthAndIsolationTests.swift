import Crypto
import Foundation
import HTTPTypes
import SeedgateApp
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport
import Testing

@Suite("keys, auth and isolation")
struct AuthAndIsolationTests {
    static let routes: [(method: String, uri: String, dialect: String)] = [
        ("POST", "/v1/seedance2/private-avatar", "apimart"),
        ("GET", "/v1/tasks/task_01KABCDEFGHJKMNPQRSTVWXYZ0", "apimart"),
        ("POST", "/v1/videos/doubao-seedance-2-0/private-avatar/groups", "toapis"),
        ("POST", "/v1/videos/doubao-seedance-2-0/private-avatar/assets", "toapis"),
        ("GET", "/v1/videos/doubao-seedance-2-0/private-avatar/assets/asset-x", "toapis"),
        ("POST", "/api/v1/client/job/asset-upload", "crun"),
        ("GET", "/api/v1/client/job/asset-info?asset_id=asset-x", "crun"),
    ]

    static func expectUnauthorized(_ reply: Reply, dialect: String) {
        #expect(reply.status == 401, "\(reply.text)")
        switch dialect {
        case "apimart":
            #expect(reply.body["code"].int == 401)
            #expect(reply.body["error"]["code"].string == "invalid_api_key")
        case "toapis":
            #expect(reply.body["success"].bool == false)
            #expect(reply.body["data"].isNull)
            #expect(reply.body["message"].string?.isEmpty == false)
        default:
            #expect(reply.body["code"].int == 401)
            #expect(reply.body["message"].string?.isEmpty == false)
        }
    }

    @Test("missing, unknown and revoked keys get 401 in each dialect's envelope", arguments: routes)
    func unauthorized(_ route: (method: String, uri: String, dialect: String)) async throws {
        try await withGateway { gw in
            let method: HTTPRequest.Method = route.method == "POST" ? .post : .get
            let body = route.method == "POST" ? "{}" : nil
            Self.expectUnauthorized(try await gw.request(method, route.uri, key: nil, json: body), dialect: route.dialect)
            Self.expectUnauthorized(try await gw.request(method, route.uri, key: "sk-sg-unknown", json: body), dialect: route.dialect)
            Self.expectUnauthorized(try await gw.request(method, route.uri, key: "sk-sg-unknown", header: .xAPIKey, json: body), dialect: route.dialect)
            let created = try await gw.store.createKey(name: "soon revoked")
            let before = try await gw.request(method, route.uri, key: created.secret, json: body)
            #expect(before.status != 401)
            #expect(try await gw.store.revokeKey(id: created.key.id))
            Self.expectUnauthorized(try await gw.request(method, route.uri, key: created.secret, json: body), dialect: route.dialect)
        }
    }

    @Test("either header works on every dialect")
    func eitherHeader() async throws {
        try await withGateway { gw in
            let key = try await gw.newKey()
            let apimart = try await gw.post("/v1/seedance2/private-avatar", key: key, header: .xAPIKey, #"{"group": {"name": "g"}, "url": "\#(gw.url("good.png"))"}"#)
            #expect(apimart.status == 200)
            let crun = try await gw.post("/api/v1/client/job/asset-upload", key: key, header: .bearer, #"{"name": "n", "asset_type": "Image", "asset_url": "\#(gw.url("good.png"))"}"#)
            #expect(crun.status == 200)
        }
    }

    @Test("another key's groups, assets and tasks answer 404 exactly like ids that do not exist", arguments: Backend.all)
    func isolation(_ backend: Backend) async throws {
        try await withGateway(backend: backend) { gw in
            let owner = try await gw.newKey("owner")
            let other = try await gw.newKey("other")
            let submitted = try await gw.post("/v1/seedance2/private-avatar", key: owner, #"{"group": {"name": "g"}, "url": "\#(gw.url("good.png"))"}"#)
            let taskID = try #require(submitted.body["data"]["id"].string)
            let groupID = try #require(submitted.body["data"]["group_id"].string)
            let done = try await gw.finishedTask(taskID, key: owner)
            let assetID = try #require(done.body["data"]["result"]["assets"][0]["asset_id"].string)

            let task = try await gw.get("/v1/tasks/\(taskID)", key: other)
            #expect(task.status == 404)
            #expect(task.text == #"{"code":404,"error":{"code":"task_not_found","message":"task '\#(taskID)' does not exist"}}"#)

            let toapis = try await gw.get("/v1/videos/doubao-seedance-2-0/private-avatar/assets/\(assetID)", key: other)
            let toapisMissing = try await gw.get("/v1/videos/doubao-seedance-2-0/private-avatar/assets/\(assetID)x", key: other)
            #expect(toapis.status == 404)
            #expect(toapis.text == toapisMissing.text.replacingOccurrences(of: "\(assetID)x", with: assetID))

            let crun = try await gw.get("/api/v1/client/job/asset-info?asset_id=\(assetID)", key: other)
            #expect(crun.status == 404)
            #expect(crun.body["code"].int == 404)

            let append = try await gw.post("/v1/seedance2/private-avatar", key: other, #"{"group_id": "\#(groupID)", "url": "\#(gw.url("good.png"))"}"#)
            #expect(append.status == 404)
            #expect(append.body["error"]["code"].string == "group_not_found")
            let upload = try await gw.post("/v1/videos/doubao-seedance-2-0/private-avatar/assets", key: other, #"{"group_id": "\#(groupID)", "asset_type": "image", "source_url": "\#(gw.url("good.png"))"}"#)
            #expect(upload.status == 404)

            // The owner still sees everything.
            #expect(try await gw.get("/api/v1/client/job/asset-info?asset_id=\(assetID)", key: owner).status == 200)
        }
    }

    @Test("secrets are stored only as their SHA-256")
    func secretsHashed() async throws {
        try await withGateway { gw in
            let (key, secret, _) = try await gw.store.createKey(name: "hashed")
            let rows = try await gw.store.provider.read { db in
                try await db.raw("SELECT id, name, secret_hash FROM api_keys WHERE id = \(bind: key.id)").all().map {
                    [try $0.decode(column: "id", as: String.self), try $0.decode(column: "name", as: String.self), try $0.decode(column: "secret_hash", as: String.self)]
                }
            }
            #expect(rows.count == 1)
            #expect(!rows.joined().contains(secret))
            let digest = SHA256.hash(data: Data(secret.utf8)).map { String(format: "%02x", $0) }.joined()
            #expect(rows.first?[2] == digest)
            for file in ["seedgate.sqlite", "seedgate.sqlite-wal"] {
                let raw = (try? Data(contentsOf: URL(fileURLWithPath: "\(gw.dataDirectory)/\(file)"))) ?? Data()
                #expect(raw.range(of: Data(secret.utf8)) == nil)
            }
        }
    }
}
