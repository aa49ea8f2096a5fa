import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOPosix
import SeedgateApp
import SeedgateHTTP
import SeedgateStore
import Testing

@Suite("API reads on their connection's event loop")
struct EventLoopAffinityTests {
    @Test("an API GET runs on its HTTP connection's event loop, after a wait too, and prefers database connections there; a POST, the console and /health run as before")
    func readsOnTheLoop() async throws {
        let router = Router(context: AppRequestContext.self)
        router.add(middleware: EventLoopAffinityMiddleware())
        @Sendable func whereAmI() async -> String {
            await Task.yield()
            let loop = MultiThreadedEventLoopGroup.currentEventLoop
            let preferred = PreferredEventLoop.current
            return "on a loop: \(loop != nil), preferred: \(preferred.map { $0 === loop } ?? false)"
        }
        router.get("v1/where") { _, _ in await whereAmI() }
        router.post("v1/where") { _, _ in await whereAmI() }
        router.get("console/where") { _, _ in await whereAmI() }
        router.get("health") { _, _ in await whereAmI() }
        try await Application(router: router).test(.live) { client in
            func body(_ method: HTTPRequest.Method, _ uri: String) async throws -> String {
                String(buffer: try await client.execute(uri: uri, method: method).body)
            }
            let read = try await body(.get, "/v1/where"), write = try await body(.post, "/v1/where")
            let console = try await body(.get, "/console/where"), health = try await body(.get, "/health")
            #expect(read == "on a loop: true, preferred: true")
            #expect(write == "on a loop: false, preferred: false")
            #expect(console == "on a loop: false, preferred: false")
            #expect(health == "on a loop: false, preferred: false")
        }
    }

    @Test("PostgreSQL: a call goes on, after its first query, on its database connection's event loop, where the answer arrived; its caller's task is not moved",
          .enabled(if: Backend.postgresURL != nil))
    func callsOnTheirConnectionsLoop() async throws {
        let provider = try PostgresProvider(url: try await Backend.freshPostgresDatabase(), maxConnectionsPerEventLoop: 1, logger: TestSupport.logger)
        for _ in 0..<20 {
            let (read, write, transaction) = (
                try await provider.read { db in try await db.raw("SELECT 1").run(); return db.eventLoop.inEventLoop },
                try await provider.write { db in try await db.raw("SELECT 2").run(); return db.eventLoop.inEventLoop },
                try await provider.transaction { db in try await db.raw("SELECT 3").run(); return db.eventLoop.inEventLoop }
            )
            #expect(read && write && transaction)
            #expect(MultiThreadedEventLoopGroup.currentEventLoop == nil, "the test's own task stays where it was")
        }
        await provider.close()
    }
}
