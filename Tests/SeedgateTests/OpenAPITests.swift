import Foundation
import Hummingbird
import SeedgateApp
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport
import Testing

@Suite("the OpenAPI contract")
struct OpenAPITests {
    /// Every route the real router has (with the upstream callback route a gateway with channels adds),
    /// as `METHOD /path/{param}`.
    static func routerRoutes() async throws -> Set<String> {
        let directory = TestSupport.temporaryDirectory()
        let provider = try await TestSupport.openSQLite(in: directory)
        let store = SQLStore(provider: provider)
        try await store.migrate()
        let blobs = try LocalBlobStore(root: "\(directory)/blobs")
        let urlGuard = URLGuard(allowPrivate: false)
        let signal = WorkSignal()
        let fetcher = MediaFetcher(http: GuardedClient(configuration: .init(), urlGuard: urlGuard))
        let engine = LocalEngine(renderer: LocalVideoEngine(fetcher: fetcher, blobs: blobs, scratchDirectory: directory), store: store, lease: .seconds(60))
        let signer = URLSigner(secret: Data(repeating: 7, count: 32), baseURL: "http://127.0.0.1")
        let router = buildRouter(
            store: store, assets: AssetService(store: store, urlGuard: urlGuard, signal: signal),
            generation: GenerationService(store: store, engine: engine, signal: signal),
            links: ResultLinks(signer: signer, ttl: .seconds(60), retention: .seconds(60)), signer: signer, blobs: blobs,
            limits: .defaults, rateLimiter: RateLimiter(store: store), urlGuard: urlGuard, catalog: .builtIn, upstreamCallbacks: signal,
            uploads: UploadRoutes(store: store, blobs: blobs, signer: signer, scratchDirectory: directory, quota: 1 << 20, retention: .seconds(60),
                                  probe: { path throws(Failure) in try await MediaProbe.probe(file: path) }),
            liveness: LivenessService(store: store, urlGuard: urlGuard)
        )
        await provider.close()
        return Set(router.routes.map { route in
            let path = "/" + route.path.description.split(separator: "/").map { part in
                part == "**" ? "{key}" : part.hasPrefix(":") ? "{\(part.dropFirst())}" : String(part)
            }.joined(separator: "/")
            return "\(route.method.rawValue) \(path)"
        })
    }

    static func document() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: OpenAPIDocument.data) as? [String: Any])
    }

    @Test("the document describes exactly the routes that exist: none missing, none invented")
    func routesMatch() async throws {
        let paths = try #require(try Self.document()["paths"] as? [String: [String: Any]])
        let documented = Set(paths.flatMap { path, operations in
            operations.keys.filter { ["get", "post", "put", "delete", "head", "patch"].contains($0) }.map { "\($0.uppercased()) \(path)" }
        })
        let routes = try await Self.routerRoutes()
        #expect(routes.count > 20)
        #expect(routes.subtracting(documented).isEmpty, "routes the document does not describe: \(routes.subtracting(documented).sorted())")
        #expect(documented.subtracting(routes).isEmpty, "documented routes that do not exist: \(documented.subtracting(routes).sorted())")
    }

    @Test("served at /openapi.json as kept in the repository; every operation names its error envelope and its limits come from the seeds")
    func servedAndDetailed() async throws {
        try await withGateway { gw in
            let served = try await gw.get("/openapi.json", key: nil)
            #expect(served.status == 200 && served.headers[.contentType] == "application/json")
            let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Sources/SeedgateHTTP/Resources/openapi.json")
            #expect(served.text == String(decoding: try Data(contentsOf: file), as: UTF8.self))
        }
        let document = try Self.document()
        #expect(document["openapi"] as? String == "3.1.0")
        let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: [String: Any]])
        let apimart = try #require(schemas["ApimartGeneration"]?["properties"] as? [String: [String: Any]])
        #expect(apimart["duration"]?["minimum"] as? Int == 4 && apimart["duration"]?["maximum"] as? Int == 15)
        #expect(apimart["prompt"]?["maxLength"] as? Int == 4000)
        #expect((apimart["image_urls"]?["maxItems"] as? Int) == 9 && (apimart["video_urls"]?["maxItems"] as? Int) == 3)
        // Optional fields also take null (read as absent).
        #expect((apimart["size"]?["enum"] as? [Any])?.compactMap { $0 as? String } == GenerationRules.sizes)
        let paths = try #require(document["paths"] as? [String: [String: [String: Any]]])
        for (path, operations) in paths where !path.hasPrefix("/health") && path != "/openapi.json" {
            for (method, operation) in operations {
                let responses = try #require(operation["responses"] as? [String: Any], "\(method) \(path)")
                #expect(responses["400"] != nil && responses["401"] != nil && responses["429"] != nil, "\(method) \(path) documents its errors")
            }
        }
    }
}
