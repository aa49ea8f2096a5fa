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
        // The query sleeps a little, so that its answer cannot be in before the call waits for it (an
        // answer already in lets the call go on where it is). A thread held up longer than that on a
        // loaded machine may still see one so, hence a count, where without the preference none would be.
        var onLoop = (read: 0, write: 0, transaction: 0)
        for _ in 0..<20 {
            if try await provider.read({ db in try await db.raw("SELECT pg_sleep(0.02)").run(); return db.eventLoop.inEventLoop }) { onLoop.read += 1 }
            if try await provider.write({ db in try await db.raw("SELECT pg_sleep(0.02)").run(); return db.eventLoop.inEventLoop }) { onLoop.write += 1 }
            if try await provider.transaction({ db in try await db.raw("SELECT pg_sleep(0.02)").run(); return db.eventLoop.inEventLoop }) { onLoop.transaction += 1 }
            #expect(MultiThreadedEventLoopGroup.currentEventLoop == nil, "the test's own task stays where it was")
        }
        #expect(onLoop.read >= 15 && onLoop.write >= 15 && onLoop.transaction >= 15, "\(onLoop) of 20")
        await provider.close()
    }
}
