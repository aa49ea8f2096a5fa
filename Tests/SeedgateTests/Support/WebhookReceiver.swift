import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SeedgateApp
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport
import Synchronization

/// A webhook receiver on loopback that answers 500 to its first `failures` deliveries, then 200,
/// and keeps every request it got.
final class WebhookReceiver: Sendable {
    struct Received: Sendable {
        var id: String
        var timestamp: String
        var signature: String
        var body: String
        var answered: Int
    }

    let failures: Int
    private let received = Mutex<[Received]>([])
    private let port = Mutex<Int>(0)

    init(failures: Int) {
        self.failures = failures
    }

    var requests: [Received] { received.withLock { $0 } }
    var url: String { "http://127.0.0.1:\(port.withLock { $0 })/hook" }

    /// Starts the server; it lives until the test process ends.
    func start() async throws {
        let router = Router()
        router.post("hook") { request, _ in
            let body = String(buffer: try await request.body.collect(upTo: 1 << 20))
            let status = self.received.withLock { list -> Int in
                let status = list.count < self.failures ? 500 : 200
                list.append(Received(
                    id: request.headers[HTTPField.Name("webhook-id")!] ?? "",
                    timestamp: request.headers[HTTPField.Name("webhook-timestamp")!] ?? "",
                    signature: request.headers[HTTPField.Name("webhook-signature")!] ?? "",
                    body: body, answered: status
                ))
                return status
            }
            return Response(status: .init(code: status))
        }
        let bound = AsyncStream<Int>.makeStream()
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), onServerRunning: { channel in
            bound.continuation.yield(channel.localAddress?.port ?? 0)
            bound.continuation.finish()
        })
        Task.detached { try await app.run() }
        var iterator = bound.stream.makeAsyncIterator()
        let value = await iterator.next() ?? 0
        port.withLock { $0 = value }
    }
}
