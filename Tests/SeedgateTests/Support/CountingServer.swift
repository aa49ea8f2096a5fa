import Foundation
import Hummingbird
import Synchronization

/// A server on loopback that answers every request and counts them: the target of the SSRF probe, so a
/// URL the guard let through would show up here as a fetch.
final class CountingServer: Sendable {
    private let count = Mutex(0)
    private let boundPort = Mutex(0)

    var requests: Int { count.withLock { $0 } }
    var port: Int { boundPort.withLock { $0 } }

    static func start() async throws -> CountingServer {
        let server = CountingServer()
        let router = Router()
        let respond: @Sendable (Request, BasicRequestContext) async throws -> Response = { _, _ in
            server.count.withLock { $0 += 1 }
            return Response(status: .ok, headers: [.contentType: "image/png"], body: .init(byteBuffer: .init(string: "not an image")))
        }
        router.get("**", use: respond)
        router.post("**", use: respond)
        router.head("**", use: respond)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in server.boundPort.withLock { $0 = channel.localAddress?.port ?? 0 } }
        )
        Task.detached { try await app.run() }
        try await TestSupport.waitUntil("the counting server listens", limit: .seconds(10)) { server.port != 0 }
        return server
    }
}
