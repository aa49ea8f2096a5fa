import Foundation
import Hummingbird
import NIOCore
import SeedgateApp
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport
import ServiceLifecycle

/// A real HTTP server on loopback that serves the media fixtures, the way a client's file host would:
/// `/f/<name>` serves a file, `/slow/<name>` waits first, `/redirect/<name>` redirects to `/f/<name>`,
/// `/missing` answers 404. Started once for the whole test run.
enum FixtureServer {
    private static let started = StartedOnce()

    /// The base URL, e.g. `http://127.0.0.1:41234`.
    static func baseURL() async throws -> String {
        try await started.value()
    }
}

actor StartedOnce {
    private var task: Task<String, any Error>?

    func value() async throws -> String {
        if task == nil {
            task = Task {
                let directory = try await MediaFixtures.prepare()
                let router = Router()
                router.get("f/:name") { _, context in try await Self.serve(directory, try context.parameters.require("name"), context) }
                router.get("slow/:name") { _, context in
                    try await Task.sleep(for: .milliseconds(1500))
                    return try await Self.serve(directory, try context.parameters.require("name"), context)
                }
                router.get("redirect/:name") { _, context in
                    Response(status: .found, headers: [.location: "/f/\(try context.parameters.require("name"))"])
                }
                router.get("missing") { _, _ in Response(status: .notFound) }
                let port = AsyncStream<Int>.makeStream()
                let app = Application(
                    router: router,
                    configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                    onServerRunning: { channel in
                        port.continuation.yield(channel.localAddress?.port ?? 0)
                        port.continuation.finish()
                    }
                )
                Task.detached { try await app.run() }
                var iterator = port.stream.makeAsyncIterator()
                guard let bound = await iterator.next() else { throw FixtureError("fixture server did not start") }
                return "http://127.0.0.1:\(bound)"
            }
        }
        return try await task!.value
    }

    static func serve(_ directory: String, _ name: String, _ context: BasicRequestContext) async throws -> Response {
        guard !name.contains("/"), let data = FileManager.default.contents(atPath: "\(directory)/\(name)") else {
            return Response(status: .notFound)
        }
        return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
