import Foundation
import SeedgateApp
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport
import Testing

@Suite("durability")
struct RestartAndShutdownTests {
    @Test("reviews held by a server that died are finished by the next one")
    func survivesCrash() async throws {
        let directory = TestSupport.temporaryDirectory()
        let fixtures = try await FixtureServer.baseURL()
        // The state a server leaves when it is killed mid-review: assets in processing, one under a lease.
        let provider = try await TestSupport.openSQLite(in: directory)
        let store = SQLStore(provider: provider)
        try await store.migrate()
        let (key, secret, _) = try await store.createKey(name: "crash")
        let task = try await store.submitAssets(
            keyID: key.id, target: .new(name: "g", description: ""), projectName: "default", type: .image,
            inputs: [AssetInput(url: "\(fixtures)/f/good.png", name: "a"), AssetInput(url: "\(fixtures)/f/small.png", name: "b")]
        )
        let claimed = try await store.claimAssetForReview(owner: "server-that-died", lease: .seconds(3600))
        #expect(claimed?.id == task.assets[0].id)
        await provider.close()

        try await withGateway(dataDirectory: directory) { gw in
            let done = try await gw.finishedTask(task.id, key: secret)
            #expect(done.body["data"]["status"].string == "failed")
            #expect(done.body["data"]["result"]["usable_assets"].array.count == 1)
            #expect(done.body["data"]["result"]["failed_assets"].array.count == 1)
        }
    }

    @Test("graceful shutdown finishes the review in flight before the store closes")
    func gracefulShutdown() async throws {
        let directory = TestSupport.temporaryDirectory()
        let (secret, assetID) = try await withGateway(dataDirectory: directory) { gw in
            let key = try await gw.newKey()
            let reply = try await gw.post("/api/v1/client/job/asset-upload", key: key, #"{"name": "s", "asset_type": "Image", "asset_url": "\#(gw.fixtures)/slow/good.png"}"#)
            let id = try #require(reply.body["data"]["AssetId"].string)
            // Wait until a worker holds it (the slow fetch has begun), then leave: the server shuts down.
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline {
                let owner = try await gw.store.provider.read { db in
                    try await db.raw("SELECT lease_owner FROM assets WHERE id = \(bind: id)").first()?.decode(column: "lease_owner", as: String?.self)
                }
                if owner != nil { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            return (key, id)
        }
        let provider = try await TestSupport.openSQLite(in: directory)
        let store = SQLStore(provider: provider)
        let key = try #require(try await store.authenticate(secret: secret))
        let asset = try await store.asset(id: assetID, keyID: key.id)
        await provider.close()
        #expect(asset?.status == .active)
    }

    @Test("a second server on the same data directory is refused")
    func oneServerPerDataDirectory() async throws {
        let directory = TestSupport.temporaryDirectory()
        try await withGateway(dataDirectory: directory) { _ in
            var config = SeedgateConfiguration()
            config.port = 0
            config.dataDirectory = directory
            await #expect(throws: ConfigurationError.self) {
                _ = try await buildApplication(config, logger: TestSupport.logger)
            }
        }
    }
}
